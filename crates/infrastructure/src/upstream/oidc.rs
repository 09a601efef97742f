//! Any OpenID Connect provider (Google, Keycloak, Entra ID, a company's own), by the
//! `openidconnect` crate: the discovery document fetched on first use and cached, the ID token
//! checked (signature by the provider's JWKS, re-read once on an unknown `kid`; `iss`, `aud`,
//! `exp`, `nonce`), the userinfo claims merged over the ID token's.

use std::sync::{Arc, Mutex, PoisonError};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreIdTokenClaims, CoreJsonWebKeySet,
    CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use portcullis_application::ports::{
    AuthorizationRequest, CodeExchange, ProviderInfo, UpstreamError, UpstreamProvider, error_chain,
};
use portcullis_domain::{Email, ProviderIdentity};

use super::http::UpstreamHttp;
use super::settings::ProviderSettings;
use super::token_error;

/// One OpenID Connect provider.
pub struct OidcProvider {
    info: ProviderInfo,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect_uri: RedirectUrl,
    scopes: Vec<Scope>,
    http: UpstreamHttp,
    /// The discovery document (with its JWKS) once fetched.
    metadata: Mutex<Option<Arc<CoreProviderMetadata>>>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider").field("id", &self.info.id).field("issuer", &self.issuer.as_str()).finish()
    }
}

impl OidcProvider {
    /// A provider from its settings, calling back to `redirect_uri`. Nothing is fetched yet.
    ///
    /// # Errors
    /// A message when the issuer or redirect URI is not a URL.
    pub fn new(settings: &ProviderSettings, redirect_uri: String, http: UpstreamHttp) -> Result<Self, String> {
        let issuer = settings.issuer.clone().ok_or("an oidc provider needs an issuer")?;
        let issuer = IssuerUrl::new(issuer).map_err(|error| format!("the issuer is not a URL: {error}"))?;
        Ok(Self {
            info: ProviderInfo { id: settings.id.clone(), name: settings.name.clone(), linking: settings.linking },
            issuer,
            client_id: ClientId::new(settings.client_id.clone()),
            client_secret: ClientSecret::new(settings.client_secret.expose().to_owned()),
            redirect_uri: RedirectUrl::new(redirect_uri).map_err(|error| format!("bad redirect URI: {error}"))?,
            scopes: settings.scopes.iter().filter(|scope| *scope != "openid").cloned().map(Scope::new).collect(),
            http,
            metadata: Mutex::new(None),
        })
    }

    /// The cached discovery document, fetched now if it is not cached yet.
    fn metadata(&self) -> Result<Arc<CoreProviderMetadata>, UpstreamError> {
        if let Some(metadata) = self.metadata.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            return Ok(Arc::clone(metadata));
        }
        let fetched = CoreProviderMetadata::discover(&self.issuer, &self.http)
            .map_err(|error| UpstreamError::Unreachable(format!("discovery: {}", error_chain(&error))))?;
        let fetched = Arc::new(fetched);
        *self.metadata.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&fetched));
        tracing::info!(provider = %self.info.id, issuer = %self.issuer.as_str(), "discovery document fetched");
        Ok(fetched)
    }

    /// Re-reads the JWKS (a key the cached set does not have) and caches the result.
    fn reload_keys(&self, metadata: &CoreProviderMetadata) -> Result<Arc<CoreProviderMetadata>, UpstreamError> {
        let keys = CoreJsonWebKeySet::fetch(metadata.jwks_uri(), &self.http)
            .map_err(|error| UpstreamError::Unreachable(format!("JWKS: {}", error_chain(&error))))?;
        let updated = Arc::new(metadata.clone().set_jwks(keys));
        *self.metadata.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&updated));
        tracing::info!(provider = %self.info.id, "JWKS re-read for an unknown key");
        Ok(updated)
    }

    fn client(
        &self,
        metadata: &CoreProviderMetadata,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        // RFC 8414 / OIDC discovery: without a list, client_secret_basic is the default.
        let post_only = metadata.token_endpoint_auth_methods_supported().is_some_and(|methods| {
            !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && methods.contains(&CoreClientAuthMethod::ClientSecretPost)
        });
        CoreClient::from_provider_metadata(metadata.clone(), self.client_id.clone(), Some(self.client_secret.clone()))
            .set_redirect_uri(self.redirect_uri.clone())
            .set_auth_type(if post_only { AuthType::RequestBody } else { AuthType::BasicAuth })
    }

    /// The ID token's claims, verified; the keys re-read once when it names an unknown `kid`.
    fn verified_claims(
        &self,
        metadata: Arc<CoreProviderMetadata>,
        id_token: &openidconnect::core::CoreIdToken,
        nonce: &Nonce,
    ) -> Result<(CoreIdTokenClaims, Arc<CoreProviderMetadata>), UpstreamError> {
        let first = id_token.claims(&self.client(&metadata).id_token_verifier(), nonce).cloned();
        match first {
            Ok(claims) => Ok((claims, metadata)),
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                let metadata = self.reload_keys(&metadata)?;
                let claims = id_token
                    .claims(&self.client(&metadata).id_token_verifier(), nonce)
                    .cloned()
                    .map_err(|error| UpstreamError::Refused(format!("ID token: {error}")))?;
                Ok((claims, metadata))
            }
            Err(error) => Err(UpstreamError::Refused(format!("ID token: {error}"))),
        }
    }
}

impl UpstreamProvider for OidcProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn authorization_url(&self, request: &AuthorizationRequest<'_>) -> Result<String, UpstreamError> {
        let metadata = self.metadata()?;
        let verifier = PkceCodeVerifier::new(request.pkce_verifier.expose().to_owned());
        let state = request.state.to_owned();
        let nonce = request.nonce.expose().to_owned();
        let (url, _, _) = self
            .client(&metadata)
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scopes(self.scopes.iter().cloned())
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier))
            .url();
        Ok(url.into())
    }

    fn exchange(&self, exchange: &CodeExchange<'_>) -> Result<ProviderIdentity, UpstreamError> {
        let metadata = self.metadata()?;
        if let Some(issuer) = exchange.issuer
            && issuer != metadata.issuer().as_str()
        {
            return Err(UpstreamError::Refused("the callback's iss is not the provider's issuer".to_owned()));
        }
        let client = self.client(&metadata);
        let response = client
            .exchange_code(AuthorizationCode::new(exchange.code.to_owned()))
            .map_err(|error| UpstreamError::Unreachable(format!("no token endpoint: {error}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(exchange.pkce_verifier.expose().to_owned()))
            .request(&self.http)
            .map_err(|error| token_error(&error))?;
        let id_token = response.id_token().ok_or_else(|| UpstreamError::Refused("no ID token".to_owned()))?;
        let nonce = Nonce::new(exchange.nonce.expose().to_owned());
        let (claims, metadata) = self.verified_claims(metadata, id_token, &nonce)?;
        let userinfo = self.userinfo(&metadata, response.access_token(), &claims)?;
        Ok(identity(&self.info, &claims, userinfo.as_ref()))
    }
}

impl OidcProvider {
    /// The userinfo claims, when the provider has the endpoint (for the ID token's subject).
    fn userinfo(
        &self,
        metadata: &CoreProviderMetadata,
        access_token: &AccessToken,
        claims: &CoreIdTokenClaims,
    ) -> Result<Option<CoreUserInfoClaims>, UpstreamError> {
        let client = self.client(metadata);
        let Ok(request) = client.user_info(access_token.clone(), Some(claims.subject().clone())) else {
            return Ok(None);
        };
        request.request(&self.http).map(Some).map_err(|error| match error {
            openidconnect::UserInfoError::Request(_) => {
                UpstreamError::Unreachable(format!("userinfo: {}", error_chain(&error)))
            }
            other => UpstreamError::Refused(format!("userinfo: {}", error_chain(&other))),
        })
    }
}

/// The identity from the ID token's claims, the userinfo claims winning where both have one.
fn identity(
    info: &ProviderInfo,
    claims: &CoreIdTokenClaims,
    userinfo: Option<&CoreUserInfoClaims>,
) -> ProviderIdentity {
    let email = userinfo.and_then(|u| u.email()).or_else(|| claims.email());
    let email_verified = userinfo.and_then(|u| u.email_verified()).or_else(|| claims.email_verified());
    let name = userinfo.and_then(|u| u.name()).or_else(|| claims.name()).and_then(|name| name.get(None));
    let picture = userinfo.and_then(|u| u.picture()).or_else(|| claims.picture()).and_then(|p| p.get(None));
    ProviderIdentity {
        provider: info.id.clone(),
        subject: claims.subject().as_str().to_owned(),
        email: email.and_then(|email| Email::parse(email.as_str()).ok()),
        email_verified: email_verified.unwrap_or(false),
        name: name.map(|name| name.as_str().to_owned()),
        picture: picture.map(|picture| picture.as_str().to_owned()),
    }
}
