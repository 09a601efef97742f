//! The shaku module: every adapter and handler of one Portcullis process, wired once. This
//! is the only place that names both the application's handlers and the infrastructure's
//! adapters.

use std::sync::Arc;

use portcullis_application::account_mail::TemplatedAccountMailParameters;
use portcullis_application::commands::delete_account::DeleteAccountHandlerParameters;
use portcullis_application::commands::login::LoginHandlerParameters;
use portcullis_application::commands::mfa::MfaVerifyHandlerParameters;
use portcullis_application::commands::passkey_sign_in::PasskeySignInHandlerParameters;
use portcullis_application::commands::passwords::ChangePasswordHandlerParameters;
use portcullis_application::commands::provider_sign_in::ProviderSignInHandlerParameters;
use portcullis_application::commands::refresh::RefreshHandlerParameters;
use portcullis_application::commands::second_factor::SecondFactorHandlerParameters;
use portcullis_application::defaults::{
    NoExtraClaims, OpenSignup, StrengthPasswordPolicy, StrengthPasswordPolicyParameters, SystemClock,
};
use portcullis_application::{
    AdminHandler, ApiKeysHandler, ChangePasswordHandler, DeleteAccountHandler, ForgotPasswordHandler,
    IdentitiesHandler, IntrospectHandler, LoginHandler, LogoutHandler, MfaVerifyHandler, PasskeySignInHandler,
    PasskeysHandler, ProviderSignInHandler, ReauthWindow, RefreshHandler, ResendVerificationHandler,
    ResetPasswordHandler, SecondFactorHandler, SessionPolicy, SessionsHandler, SignupHandler, TemplatedAccountMail,
    UpdateProfileHandler, VerifyAccessTokenHandler, VerifyEmailHandler,
};
use portcullis_domain::{LockoutPolicy, MinPasswordScore, RateQuota};
use portcullis_infrastructure::hashing::{HashingPool, PooledPasswordHasher, PooledPasswordHasherParameters};
use portcullis_infrastructure::mail::{MailStats, OutboxSignal};
use portcullis_infrastructure::passkeys::{RelyingPartyConfig, WebauthnRelyingParty, WebauthnRelyingPartyParameters};
use portcullis_infrastructure::persistence::{
    DatabaseFile, DbPool, DieselDatabaseProbe, DieselDatabaseProbeParameters, DieselLockoutStore,
    DieselLockoutStoreParameters, DieselRateLimiter, DieselRateLimiterParameters, DieselUnitOfWorkFactory,
    DieselUnitOfWorkFactoryParameters, SqliteWriters,
};
use portcullis_infrastructure::resources::{ProcessResources, ProcessResourcesParameters};
use portcullis_infrastructure::sealing::SecretSealer;
use portcullis_infrastructure::tokens::{
    AccessTokenRules, DatabaseKeyRingReloader, DatabaseKeyRingReloaderParameters, JwksDocument, JwksDocumentParameters,
    JwtTokenService, JwtTokenServiceParameters, SharedKeyRing, TokenSettings,
};
use portcullis_infrastructure::upstream::{ConfiguredProviders, ConfiguredProvidersParameters};
use shaku::{ModuleBuilder, module};

// Everything one Portcullis process serves with.
module! {
    pub AppModule {
        components = [
            DieselUnitOfWorkFactory, DieselDatabaseProbe, JwtTokenService, JwksDocument, PooledPasswordHasher,
            StrengthPasswordPolicy,
            SystemClock, DatabaseKeyRingReloader,
            SignupHandler, LoginHandler, RefreshHandler, LogoutHandler, VerifyAccessTokenHandler, UpdateProfileHandler,
            SessionsHandler, AdminHandler, ApiKeysHandler, IntrospectHandler,
            TemplatedAccountMail, VerifyEmailHandler, ResendVerificationHandler, ChangePasswordHandler,
            ForgotPasswordHandler, ResetPasswordHandler, DeleteAccountHandler, OpenSignup, NoExtraClaims,
            DieselRateLimiter, DieselLockoutStore, ProcessResources,
            ConfiguredProviders, ProviderSignInHandler, IdentitiesHandler, SecondFactorHandler, MfaVerifyHandler,
            WebauthnRelyingParty, PasskeysHandler, PasskeySignInHandler,
        ],
        providers = []
    }
}

/// The ready-made adapters the module is built from.
pub struct Infrastructure {
    /// Database pool.
    pub pool: DbPool,
    /// Signing keys, shared by the token service and the JWKS endpoint.
    pub keys: SharedKeyRing,
    /// Password-hashing threads.
    pub hashing: Arc<HashingPool>,
    /// Claims and lifetime of access tokens.
    pub token_settings: TokenSettings,
    /// Refresh-token and session lifetimes.
    pub session_policy: SessionPolicy,
    /// How recent a sign-in must be where a user without a password cannot type one
    /// (`PORTCULLIS_REAUTH_SECS`).
    pub reauth: ReauthWindow,
    /// The strength score a new password must reach (`PORTCULLIS_MIN_PASSWORD_SCORE`).
    pub min_password_score: MinPasswordScore,
    /// The per-IP limit on the sensitive endpoints (`PORTCULLIS_RATE_LIMIT_PER_MINUTE`); `None`: off.
    pub rate_limit: Option<RateQuota>,
    /// The per-account lockout (`PORTCULLIS_LOCKOUT_THRESHOLD`, `PORTCULLIS_LOCKOUT_SECS`).
    pub lockout: LockoutPolicy,
    /// The counters of this instance's mail worker (for `/metrics`).
    pub mail: MailStats,
    /// What the units of work ring after committing mail, waking the mail worker.
    pub outbox_signal: OutboxSignal,
    /// The base of links in mail (`PORTCULLIS_PUBLIC_URL`).
    pub public_url: String,
    /// The upstream sign-in providers (`PORTCULLIS_PROVIDERS`).
    pub providers: ConfiguredProviders,
    /// The SQLite file served from, as opened (readiness fails when it is deleted or replaced).
    pub database_file: DatabaseFile,
    /// The WebAuthn relying party of the public URL (off when its host is an IP address).
    pub passkeys: RelyingPartyConfig,
    /// Seals the secrets kept in the database (`PORTCULLIS_ENCRYPTION_KEY`).
    pub sealer: SecretSealer,
}

/// Builds the module. Every parameter of every component is set here; a test builds it.
pub fn build_module(infrastructure: Infrastructure) -> AppModule {
    module_builder(infrastructure).build()
}

/// The module's builder with every parameter set, for a team that plugs in its own
/// components before building, e.g.
/// `module_builder(infra).with_component_override::<dyn SignupPolicy>(Box::new(MyPolicy)).build()`.
/// The extension points meant for this are
/// [`SignupPolicy`](portcullis_application::ports::SignupPolicy) and
/// [`ClaimsExtension`](portcullis_application::ports::ClaimsExtension); any other interface
/// of the module can be overridden the same way.
pub fn module_builder(infrastructure: Infrastructure) -> ModuleBuilder<AppModule> {
    let Infrastructure {
        pool,
        keys,
        hashing,
        token_settings,
        session_policy,
        reauth,
        min_password_score,
        rate_limit,
        lockout,
        mail,
        outbox_signal,
        public_url,
        providers,
        database_file,
        passkeys,
        sealer,
    } = infrastructure;
    AppModule::builder()
        .with_component_parameters::<DieselUnitOfWorkFactory>(DieselUnitOfWorkFactoryParameters {
            pool: pool.clone(),
            sealer: sealer.clone(),
            outbox_signal,
            sqlite_writers: SqliteWriters::default(),
        })
        .with_component_parameters::<DieselDatabaseProbe>(DieselDatabaseProbeParameters {
            pool: pool.clone(),
            file: database_file,
        })
        .with_component_parameters::<DieselRateLimiter>(DieselRateLimiterParameters {
            pool: pool.clone(),
            quota: rate_limit,
            last_sweep_us: Default::default(),
        })
        .with_component_parameters::<DieselLockoutStore>(DieselLockoutStoreParameters { pool: pool.clone() })
        .with_component_parameters::<ProcessResources>(ProcessResourcesParameters {
            pool: pool.clone(),
            hashing: Arc::clone(&hashing),
            mail,
        })
        .with_component_parameters::<DatabaseKeyRingReloader>(DatabaseKeyRingReloaderParameters {
            pool,
            sealer,
            keys: Arc::clone(&keys),
            last_throttled: Default::default(),
        })
        .with_component_parameters::<JwtTokenService>(JwtTokenServiceParameters {
            keys: Arc::clone(&keys),
            rules: AccessTokenRules::new(token_settings),
        })
        .with_component_parameters::<JwksDocument>(JwksDocumentParameters { keys })
        .with_component_parameters::<PooledPasswordHasher>(PooledPasswordHasherParameters { pool: hashing })
        .with_component_parameters::<LoginHandler>(LoginHandlerParameters { policy: session_policy, lockout })
        .with_component_parameters::<MfaVerifyHandler>(MfaVerifyHandlerParameters { policy: session_policy, lockout })
        .with_component_parameters::<SecondFactorHandler>(SecondFactorHandlerParameters {
            issuer: totp_issuer(&public_url),
        })
        .with_component_parameters::<WebauthnRelyingParty>(WebauthnRelyingPartyParameters { config: passkeys })
        .with_component_parameters::<PasskeySignInHandler>(PasskeySignInHandlerParameters { policy: session_policy })
        .with_component_parameters::<RefreshHandler>(RefreshHandlerParameters { policy: session_policy })
        .with_component_parameters::<ProviderSignInHandler>(ProviderSignInHandlerParameters { policy: session_policy })
        .with_component_parameters::<ConfiguredProviders>(ConfiguredProvidersParameters {
            providers: providers.into_providers(),
        })
        .with_component_parameters::<ChangePasswordHandler>(ChangePasswordHandlerParameters { reauth })
        .with_component_parameters::<DeleteAccountHandler>(DeleteAccountHandlerParameters { reauth })
        .with_component_parameters::<StrengthPasswordPolicy>(StrengthPasswordPolicyParameters {
            min_score: min_password_score,
        })
        .with_component_parameters::<TemplatedAccountMail>(TemplatedAccountMailParameters { public_url })
}

/// How a caller changes the module before it is built (see
/// [`Service::start_with`](crate::Service::start_with)): overrides of components, e.g. a
/// [`SignupPolicy`](portcullis_application::ports::SignupPolicy) of its own.
pub type Customize = Box<dyn FnOnce(ModuleBuilder<AppModule>) -> ModuleBuilder<AppModule> + Send>;

/// The issuer authenticator apps show for this service: the public URL's host
/// (`auth.example.com`), or "Portcullis" when it has none.
fn totp_issuer(public_url: &str) -> String {
    url::Url::parse(public_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "Portcullis".to_owned())
}
