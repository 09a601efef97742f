//! [`Service`]: one running Portcullis without HTTP: every adapter built from a
//! [`Config`], the shaku module built over them, and the use cases resolved from it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use portcullis_application::{ReauthWindow, ServicePorts, SessionPolicy, UseCases};
use portcullis_domain::{LockoutPolicy, RateQuota, SecretString};
use portcullis_infrastructure::hashing::HashingPool;
use portcullis_infrastructure::mail::{
    MailSettings, MailTransport, OutboxPolicy, OutboxSignal, OutboxWorker, build_transport,
};
use portcullis_infrastructure::passkeys::{PasskeysOff, RelyingPartyConfig};
use portcullis_infrastructure::persistence::DatabaseFile;
use portcullis_infrastructure::tokens::{TokenSettings, ensure_signing_key, load_key_ring};
use portcullis_infrastructure::upstream::{ConfiguredProviders, UpstreamHttp};
use shaku::HasComponent;

use crate::config::{Config, ConfigError};
use crate::housekeeping::Housekeeper;
use crate::module::{AppModule, Customize, Infrastructure, module_builder};
use crate::storage::open_database;

/// A started Portcullis: the use cases, the ports an adapter needs, housekeeping, and the
/// worker delivering the mail outbox. Start it with [`Service::start`]; end it with
/// [`Service::shutdown`], which lets the worker finish the mail it is handing over (mail
/// still waiting stays in the database for the next start or another instance).
pub struct Service {
    module: Arc<AppModule>,
    use_cases: UseCases,
    ports: ServicePorts,
    housekeeper: Housekeeper,
    mail: OutboxWorker,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("mail", &self.mail).finish_non_exhaustive()
    }
}

/// The issuer (`iss`): the public URL without a trailing slash.
pub fn issuer(config: &Config) -> String {
    config.public_url.as_str().trim_end_matches('/').to_owned()
}

/// Where mail goes: SMTP when `PORTCULLIS_SMTP_URL` is set, else `.eml` files in
/// `PORTCULLIS_MAIL_DIR`.
pub fn mail_settings(config: &Config) -> MailSettings {
    let transport = match &config.smtp_url {
        Some(url) => MailTransport::Smtp(SecretString::new(url.clone())),
        None => MailTransport::Directory(config.mail_dir.clone().into()),
    };
    MailSettings { from: config.mail_sender(), transport }
}

fn secs(value: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX))
}

impl Service {
    /// Opens and migrates the database, makes a signing key if there is none, starts the
    /// hashing threads and the mail queue, and wires the use cases. Blocking: call it from
    /// a plain thread (or `spawn_blocking`).
    ///
    /// # Errors
    /// Anything that stops start-up (database unreachable, a migration or key failure, the
    /// mail folder not writable); the message names the setting to look at.
    pub fn start(config: &Config) -> anyhow::Result<Self> {
        Self::start_with(config, Box::new(|builder| builder))
    }

    /// As [`Service::start`], letting `customize` override components of the shaku module
    /// before it is built: the way to plug in an own
    /// [`SignupPolicy`](portcullis_application::ports::SignupPolicy) or
    /// [`ClaimsExtension`](portcullis_application::ports::ClaimsExtension).
    ///
    /// # Errors
    /// As [`Service::start`].
    pub fn start_with(config: &Config, customize: Customize) -> anyhow::Result<Self> {
        let pool = open_database(config)?;
        let sealer = crate::storage::sealer(config)?;
        if !sealer.is_enabled() {
            tracing::warn!(
                "no PORTCULLIS_ENCRYPTION_KEY: signing keys and TOTP secrets are stored in the database in the clear"
            );
        }
        ensure_signing_key(&pool, &sealer, Utc::now())?;
        let keys = Arc::new(RwLock::new(Arc::new(load_key_ring(&pool, &sealer)?)));
        let hashing = HashingPool::start(config.hash_workers, config.hash_queue, config.bcrypt_cost)
            .context("starting the password-hashing threads (PORTCULLIS_HASH_WORKERS)")?;
        let transport = build_transport(&mail_settings(config))?;
        let outbox_signal = OutboxSignal::default();
        let mail = OutboxWorker::start(
            pool.clone(),
            sealer.clone(),
            transport.mailer,
            outbox_policy(config),
            outbox_signal.clone(),
            transport.description,
        )?;
        let housekeeper = Housekeeper::new(pool.clone(), secs(config.access_ttl_secs));
        let module = customize(module_builder(Infrastructure {
            pool,
            keys,
            hashing,
            token_settings: TokenSettings {
                issuer: issuer(config),
                audience: config.audience.clone(),
                access_ttl: secs(config.access_ttl_secs),
            },
            session_policy: SessionPolicy {
                refresh_ttl: secs(config.refresh_ttl_secs),
                session_max: secs(config.session_max_secs),
                reuse_grace: secs(config.refresh_grace_secs),
            },
            reauth: ReauthWindow::new(config.reauth_secs),
            min_password_score: config.min_password_score,
            rate_limit: RateQuota::per_minute(config.rate_limit_per_minute),
            lockout: LockoutPolicy::new(config.lockout_threshold, config.lockout_secs),
            mail: mail.stats(),
            outbox_signal,
            public_url: issuer(config),
            providers: upstream_providers(config),
            database_file: DatabaseFile::of_url(&config.database_url),
            passkeys: relying_party(config),
            sealer,
        }))
        .build();
        Ok(Self::over(Arc::new(module), housekeeper, mail))
    }

    fn over(module: Arc<AppModule>, housekeeper: Housekeeper, mail: OutboxWorker) -> Self {
        let m = &*module;
        let use_cases = UseCases {
            signup: m.resolve(),
            login: m.resolve(),
            refresh: m.resolve(),
            logout: m.resolve(),
            verify_access_token: m.resolve(),
            update_profile: m.resolve(),
            sessions: m.resolve(),
            admin: m.resolve(),
            api_keys: m.resolve(),
            introspect: m.resolve(),
            verify_email: m.resolve(),
            resend_verification: m.resolve(),
            change_password: m.resolve(),
            forgot_password: m.resolve(),
            reset_password: m.resolve(),
            delete_account: m.resolve(),
            provider_sign_in: m.resolve(),
            identities: m.resolve(),
            second_factor: m.resolve(),
            mfa_verify: m.resolve(),
            passkeys: m.resolve(),
            passkey_sign_in: m.resolve(),
        };
        let ports = ServicePorts {
            clock: m.resolve(),
            rate_limiter: m.resolve(),
            database: m.resolve(),
            key_reloader: m.resolve(),
            jwks: m.resolve(),
            resources: m.resolve(),
            units: m.resolve(),
        };
        Self { module, use_cases, ports, housekeeper, mail }
    }

    /// Every use case.
    pub fn use_cases(&self) -> &UseCases {
        &self.use_cases
    }

    /// The ports an adapter needs beyond the use cases (rate limits, readiness, key reloads,
    /// JWKS, resource gauges, units of work).
    pub fn ports(&self) -> &ServicePorts {
        &self.ports
    }

    /// The shaku module, to resolve a component of one's own added with
    /// [`Service::start_with`].
    pub fn module(&self) -> &AppModule {
        &self.module
    }

    /// Deletes what has expired (see [`Housekeeper`]); cheap to clone and move to a thread.
    pub fn housekeeper(&self) -> Housekeeper {
        self.housekeeper.clone()
    }

    /// Lets the mail worker deliver what is due now and stop, waiting at most `timeout`;
    /// `true` when it stopped in time. Mail waiting for a retry stays in the outbox.
    /// Blocking.
    pub fn shutdown(self, timeout: Duration) -> bool {
        self.mail.shutdown(timeout)
    }
}

/// How the mail worker retries: for `PORTCULLIS_MAIL_RETRY_SECS`, otherwise the defaults.
fn outbox_policy(config: &Config) -> OutboxPolicy {
    OutboxPolicy { give_up_after: Duration::from_secs(config.mail_retry_secs), ..OutboxPolicy::default() }
}

/// The WebAuthn relying party of `config`'s public URL; off (logged once) when its host is
/// an IP address.
fn relying_party(config: &Config) -> RelyingPartyConfig {
    RelyingPartyConfig::for_public_url(&config.public_url).unwrap_or_else(|off| {
        tracing::warn!(reason = %off, "passkeys are off");
        RelyingPartyConfig::off()
    })
}

/// Whether passkeys are on for `config`, as `portcullis config check` says it: the relying
/// party id, or why they are off.
///
/// # Errors
/// [`PasskeysOff`] naming the reason.
pub fn passkeys_status(config: &Config) -> Result<String, PasskeysOff> {
    RelyingPartyConfig::for_public_url(&config.public_url)?;
    Ok(config.public_url.host_str().unwrap_or_default().to_owned())
}

/// The upstream providers of `config`: those configured well are built; each one left out
/// (in the configuration, or because it cannot be built) is logged and the rest work.
fn upstream_providers(config: &Config) -> ConfiguredProviders {
    let (providers, problems) = build_providers(config);
    for problem in problems {
        tracing::error!(variable = %problem.variable, problem = %problem.message, "sign-in provider left out");
    }
    providers
}

fn build_providers(config: &Config) -> (ConfiguredProviders, Vec<ConfigError>) {
    let (providers, built) =
        ConfiguredProviders::build(&config.providers.settings, &config.public_url, &UpstreamHttp::default());
    let mut problems = config.providers.problems.clone();
    problems.extend(built.into_iter().map(|problem| ConfigError {
        variable: format!("PORTCULLIS_PROVIDER_{}_*", problem.id.as_str().to_uppercase()),
        message: problem.problem,
    }));
    (providers, problems)
}

/// What is wrong with the sign-in providers of `config`: each of those providers is left out
/// when the service starts (the others work). `portcullis config check` lists them.
pub fn provider_problems(config: &Config) -> Vec<ConfigError> {
    build_providers(config).1
}
