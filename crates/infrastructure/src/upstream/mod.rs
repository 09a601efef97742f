//! Upstream sign-in providers: the adapters of
//! [`UpstreamProvider`](portcullis_application::ports::UpstreamProvider) and the configured set.
//!
//! Every outbound call goes through [`UpstreamHttp`]: 10 s deadline, no redirects followed,
//! at most 1 MiB read. Client secrets live in [`ProviderSettings`] and the `oauth2` clients
//! only; they are never logged (`Debug` redacts them).

mod http;
mod oauth_app;
mod oidc;
mod settings;

use std::sync::Arc;

use portcullis_application::ports::{ProviderInfo, UpstreamError, UpstreamProvider, UpstreamProviders, error_chain};
use portcullis_domain::ProviderId;
use shaku::Component;

pub use http::{CALL_TIMEOUT, HttpError, MAX_RESPONSE_BYTES, UpstreamHttp};
pub use oauth_app::OAuthAppProvider;
pub use oidc::OidcProvider;
pub use settings::{ProviderKind, ProviderSettings};

/// The providers that were configured well, in configured order.
#[derive(Component, Clone, Default)]
#[shaku(interface = UpstreamProviders)]
pub struct ConfiguredProviders {
    providers: Vec<Arc<dyn UpstreamProvider>>,
}

impl std::fmt::Debug for ConfiguredProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.providers.iter().map(|provider| provider.info().id.clone())).finish()
    }
}

/// A provider whose configuration could not be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderProblem {
    /// The provider.
    pub id: ProviderId,
    /// What is wrong (never a secret).
    pub problem: String,
}

impl ConfiguredProviders {
    /// Builds the adapters of `settings`, calling back to
    /// `{public_url}/api/auth/oauth/{id}/callback`. A provider that cannot be built is left
    /// out and reported; the others work.
    pub fn build(
        settings: &[ProviderSettings],
        public_url: &url::Url,
        http: &UpstreamHttp,
    ) -> (Self, Vec<ProviderProblem>) {
        let mut providers: Vec<Arc<dyn UpstreamProvider>> = Vec::new();
        let mut problems = Vec::new();
        for provider in settings {
            let redirect_uri = callback_url(public_url, &provider.id);
            let built: Result<Arc<dyn UpstreamProvider>, String> = match provider.kind {
                ProviderKind::Oidc => OidcProvider::new(provider, redirect_uri, http.clone())
                    .map(|p| Arc::new(p) as Arc<dyn UpstreamProvider>),
                ProviderKind::GitHub | ProviderKind::Facebook => {
                    OAuthAppProvider::new(provider, redirect_uri, http.clone())
                        .map(|p| Arc::new(p) as Arc<dyn UpstreamProvider>)
                }
            };
            match built {
                Ok(built) => providers.push(built),
                Err(problem) => problems.push(ProviderProblem { id: provider.id.clone(), problem }),
            }
        }
        (Self { providers }, problems)
    }

    /// The adapters, for the component's parameters.
    pub fn into_providers(self) -> Vec<Arc<dyn UpstreamProvider>> {
        self.providers
    }

    /// These providers (for a program with adapters of its own).
    pub fn new(providers: Vec<Arc<dyn UpstreamProvider>>) -> Self {
        Self { providers }
    }
}

impl UpstreamProviders for ConfiguredProviders {
    fn all(&self) -> Vec<ProviderInfo> {
        self.providers.iter().map(|provider| provider.info().clone()).collect()
    }

    fn find(&self, id: &str) -> Option<Arc<dyn UpstreamProvider>> {
        self.providers.iter().find(|provider| provider.info().id.as_str() == id).cloned()
    }
}

/// `{public_url}/api/auth/oauth/{id}/callback`.
pub fn callback_url(public_url: &url::Url, id: &ProviderId) -> String {
    format!("{}/api/auth/oauth/{id}/callback", public_url.as_str().trim_end_matches('/'))
}

/// A failed token request: unreachable when no answer came, refused when the provider said no.
fn token_error<RE: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    error: &oauth2::RequestTokenError<RE, T>,
) -> UpstreamError {
    match error {
        oauth2::RequestTokenError::Request(_) => UpstreamError::Unreachable(format!("token: {}", error_chain(error))),
        oauth2::RequestTokenError::ServerResponse(response) => UpstreamError::Refused(format!("token: {}", response)),
        other => UpstreamError::Refused(format!("token: {}", error_chain(other))),
    }
}
