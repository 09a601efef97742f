/// What the HTTP layer needs to know from the configuration.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// Whether cookies carry `Secure`.
    pub cookie_secure: bool,
    /// `PORTCULLIS_ADMIN_REQUIRES_MFA`: the admin API answers `403 mfa_required` to a session
    /// whose `amr` lacks `mfa` (API keys are not affected).
    pub admin_requires_mfa: bool,
    /// `PORTCULLIS_BODY_TIMEOUT_SECS`: how long a request body may take to arrive (`408` after).
    pub body_timeout_secs: u64,
    /// Access-token lifetime in seconds (the access cookie's `Max-Age`, `expires_in`).
    pub access_ttl_secs: u64,
    /// Refresh-token lifetime in seconds (the refresh and CSRF cookies' `Max-Age`).
    pub refresh_ttl_secs: u64,
    /// The public URL without a trailing slash: the tokens' `iss` and the base of links.
    pub issuer: String,
    /// Proxies whose `X-Forwarded-For` is believed (`PORTCULLIS_TRUSTED_PROXIES`); see
    /// [`crate::client_ip`].
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins (`scheme://host[:port]`) allowed to make credentialed cross-origin requests
    /// (CORS) and state changes carrying an `Origin` header (`PORTCULLIS_ALLOWED_ORIGINS`).
    pub allowed_origins: Vec<String>,
}

impl ApiSettings {
    /// `raw` when it is a path on this site (under the public URL); see
    /// [`SameSitePath`](portcullis_domain::SameSitePath).
    pub fn same_site_path(&self, raw: &str) -> Option<portcullis_domain::SameSitePath> {
        let public_url = url::Url::parse(&self.issuer).ok()?;
        portcullis_domain::SameSitePath::parse(raw, &public_url)
    }
}
