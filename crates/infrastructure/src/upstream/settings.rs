//! How one upstream provider is configured (`PORTCULLIS_PROVIDER_X_*`, `[providers.x]`).

use portcullis_domain::{LinkingPolicy, ProviderId, SecretString};

/// Which protocol a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect: discovery, ID token.
    Oidc,
    /// GitHub's OAuth apps and REST API.
    GitHub,
    /// Facebook Login and the Graph API.
    Facebook,
}

impl ProviderKind {
    /// The kind named `raw` (`oidc`, `github`, `facebook`).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "oidc" => Some(Self::Oidc),
            "github" => Some(Self::GitHub),
            "facebook" => Some(Self::Facebook),
            _ => None,
        }
    }

    /// The default kind of provider `id`: `github` and `facebook` for those ids, else `oidc`.
    pub fn default_for(id: &ProviderId) -> Self {
        match id.as_str() {
            "github" => Self::GitHub,
            "facebook" => Self::Facebook,
            _ => Self::Oidc,
        }
    }

    /// Its name in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::GitHub => "github",
            Self::Facebook => "facebook",
        }
    }

    /// The scopes asked for when none are configured.
    pub fn default_scopes(self) -> &'static str {
        match self {
            Self::Oidc => "openid email profile",
            Self::GitHub => "read:user user:email",
            Self::Facebook => "email public_profile",
        }
    }
}

/// Everything about one provider, as configured; defaults already applied by the
/// configuration reader. `Debug` shows the secret as `[redacted]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderSettings {
    /// Its id.
    pub id: ProviderId,
    /// What it speaks.
    pub kind: ProviderKind,
    /// What buttons say.
    pub name: String,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret (redacted in `Debug`).
    pub client_secret: SecretString,
    /// `oidc`: the issuer whose discovery document gives the endpoints.
    pub issuer: Option<String>,
    /// Overrides the authorization endpoint.
    pub authorize_url: Option<String>,
    /// Overrides the token endpoint.
    pub token_url: Option<String>,
    /// Overrides the user-info endpoint (`oidc`), the API base (`github`), the Graph API base
    /// (`facebook`).
    pub userinfo_url: Option<String>,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// How verified addresses link to existing accounts.
    pub linking: LinkingPolicy,
}
