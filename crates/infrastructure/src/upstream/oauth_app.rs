//! Providers that speak plain OAuth 2.0 plus a REST API for the person (no ID token), by the
//! `oauth2` crate: GitHub (`/user`, `/user/emails`) and Facebook (`/me`).

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use portcullis_application::ports::{
    AuthorizationRequest, CodeExchange, ProviderInfo, UpstreamError, UpstreamProvider, error_chain,
};
use portcullis_domain::{Email, ProviderIdentity};
use serde::Deserialize;

use super::http::UpstreamHttp;
use super::settings::{ProviderKind, ProviderSettings};
use super::token_error;

/// Where GitHub's endpoints are unless configured otherwise.
const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
const GITHUB_API: &str = "https://api.github.com";
/// Where Facebook's endpoints are unless configured otherwise.
const FACEBOOK_AUTHORIZE: &str = "https://www.facebook.com/v19.0/dialog/oauth";
const FACEBOOK_TOKEN: &str = "https://graph.facebook.com/v19.0/oauth/access_token";
const FACEBOOK_GRAPH: &str = "https://graph.facebook.com/v19.0";

type AppClient = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A GitHub- or Facebook-shaped provider.
pub struct OAuthAppProvider {
    info: ProviderInfo,
    kind: ProviderKind,
    client: AppClient,
    scopes: Vec<Scope>,
    /// GitHub's API base or Facebook's Graph API base, without a trailing `/`.
    api_base: String,
    http: UpstreamHttp,
}

impl std::fmt::Debug for OAuthAppProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthAppProvider").field("id", &self.info.id).field("kind", &self.kind).finish()
    }
}

impl OAuthAppProvider {
    /// A provider of `settings.kind` (`github` or `facebook`) calling back to `redirect_uri`.
    ///
    /// # Errors
    /// A message when an endpoint is not a URL.
    pub fn new(settings: &ProviderSettings, redirect_uri: String, http: UpstreamHttp) -> Result<Self, String> {
        let (authorize, token, api) = match settings.kind {
            ProviderKind::GitHub => (GITHUB_AUTHORIZE, GITHUB_TOKEN, GITHUB_API),
            ProviderKind::Facebook => (FACEBOOK_AUTHORIZE, FACEBOOK_TOKEN, FACEBOOK_GRAPH),
            ProviderKind::Oidc => return Err("an oidc provider is not an OAuth app".to_owned()),
        };
        let url = |configured: &Option<String>, default: &str| configured.clone().unwrap_or_else(|| default.to_owned());
        let authorize = AuthUrl::new(url(&settings.authorize_url, authorize))
            .map_err(|error| format!("the authorize URL is not a URL: {error}"))?;
        let token = TokenUrl::new(url(&settings.token_url, token))
            .map_err(|error| format!("the token URL is not a URL: {error}"))?;
        let api_base = url(&settings.userinfo_url, api).trim_end_matches('/').to_owned();
        url::Url::parse(&api_base).map_err(|error| format!("the user-info URL is not a URL: {error}"))?;
        let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(settings.client_secret.expose().to_owned()))
            .set_auth_uri(authorize)
            .set_token_uri(token)
            .set_redirect_uri(RedirectUrl::new(redirect_uri).map_err(|error| format!("bad redirect URI: {error}"))?)
            // Both take the client's credentials in the form body.
            .set_auth_type(AuthType::RequestBody);
        Ok(Self {
            info: ProviderInfo { id: settings.id.clone(), name: settings.name.clone(), linking: settings.linking },
            kind: settings.kind,
            client,
            scopes: settings.scopes.iter().cloned().map(Scope::new).collect(),
            api_base,
            http,
        })
    }

    /// `GET {api_base}{path}` with the access token, as JSON.
    fn get<T: for<'de> Deserialize<'de>>(&self, path: &str, access_token: &str) -> Result<T, UpstreamError> {
        let request = oauth2::http::Request::get(format!("{}{path}", self.api_base))
            .header("Authorization", format!("Bearer {access_token}"))
            .header("Accept", "application/json")
            .body(Vec::new())
            .map_err(|error| UpstreamError::Refused(format!("{path}: {error}")))?;
        let response = self
            .http
            .send(request)
            .map_err(|error| UpstreamError::Unreachable(format!("{path}: {}", error_chain(&error))))?;
        if !response.status().is_success() {
            return Err(UpstreamError::Refused(format!("{path}: status {}", response.status().as_u16())));
        }
        serde_json::from_slice(response.body())
            .map_err(|error| UpstreamError::Refused(format!("{path}: unreadable answer: {error}")))
    }

    /// GitHub: `/user` (the numeric id is the subject) and the primary address of `/user/emails`.
    fn github_identity(&self, access_token: &str) -> Result<ProviderIdentity, UpstreamError> {
        let user: GitHubUser = self.get("/user", access_token)?;
        let emails: Vec<GitHubEmail> = self.get("/user/emails", access_token)?;
        let primary = emails.into_iter().find(|email| email.primary);
        Ok(ProviderIdentity {
            provider: self.info.id.clone(),
            subject: user.id.to_string(),
            email: primary.as_ref().and_then(|email| Email::parse(&email.email).ok()),
            email_verified: primary.is_some_and(|email| email.verified),
            name: user.name.filter(|name| !name.trim().is_empty()).or(Some(user.login)),
            picture: user.avatar_url,
        })
    }

    /// Facebook: `/me?fields=id,name,email,picture`; Facebook gives confirmed addresses only.
    fn facebook_identity(&self, access_token: &str) -> Result<ProviderIdentity, UpstreamError> {
        let me: FacebookMe = self.get("/me?fields=id,name,email,picture", access_token)?;
        let email = me.email.as_deref().and_then(|email| Email::parse(email).ok());
        Ok(ProviderIdentity {
            provider: self.info.id.clone(),
            subject: me.id,
            email_verified: email.is_some(),
            email,
            name: me.name,
            picture: me.picture.and_then(|picture| picture.data).and_then(|data| data.url),
        })
    }
}

impl UpstreamProvider for OAuthAppProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn authorization_url(&self, request: &AuthorizationRequest<'_>) -> Result<String, UpstreamError> {
        let verifier = PkceCodeVerifier::new(request.pkce_verifier.expose().to_owned());
        let state = request.state.to_owned();
        let (url, _) = self
            .client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.scopes.iter().cloned())
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier))
            .url();
        Ok(url.into())
    }

    fn exchange(&self, exchange: &CodeExchange<'_>) -> Result<ProviderIdentity, UpstreamError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(exchange.code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(exchange.pkce_verifier.expose().to_owned()))
            .request(&self.http)
            .map_err(|error| token_error(&error))?;
        let access_token = response.access_token().secret();
        match self.kind {
            ProviderKind::GitHub => self.github_identity(access_token),
            ProviderKind::Facebook | ProviderKind::Oidc => self.facebook_identity(access_token),
        }
    }
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
    name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

#[derive(Deserialize)]
struct FacebookMe {
    id: String,
    name: Option<String>,
    email: Option<String>,
    picture: Option<FacebookPicture>,
}

#[derive(Deserialize)]
struct FacebookPicture {
    data: Option<FacebookPictureData>,
}

#[derive(Deserialize)]
struct FacebookPictureData {
    url: Option<String>,
}
