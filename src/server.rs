//! Starting and stopping the HTTP service: connect and migrate the database, load the
//! signing keys, start the hashing pool, build the shaku module, bind, serve.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use actix_web::{HttpServer, web};
use anyhow::Context;
use chrono::Utc;
use portcullis_api::{ApiSettings, AppModule, AppState, Infrastructure, Metrics, build_app, module_builder};
use portcullis_application::SessionPolicy;
use portcullis_domain::{BcryptCost, LockoutPolicy, MinPasswordScore, RateQuota, SecretString};
use portcullis_infrastructure::hashing::HashingPool;
use portcullis_infrastructure::mail::{MailQueue, MailSettings, MailTransport, build_mailer};
use portcullis_infrastructure::persistence::{DbPool, PoolSettings, connect, run_migrations, sweep_expired};
use portcullis_infrastructure::tokens::{
    KeyRingReloader, TokenSettings, ensure_signing_key, load_key_ring, prune_retired_keys,
};
use shaku::{HasComponent, ModuleBuilder};

use crate::config::Config;

/// A server running in the background on the current Tokio runtime.
pub struct RunningServer {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    key_refresh: tokio::task::JoinHandle<()>,
    maintenance: tokio::task::JoinHandle<()>,
    mail: MailQueue,
}

/// How long a stopping server waits for queued mail to go out.
const MAIL_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn drain_mail(mail: MailQueue) {
    let drained = tokio::task::spawn_blocking(move || mail.shutdown(MAIL_DRAIN_TIMEOUT)).await.unwrap_or(false);
    if !drained {
        tracing::warn!("stopped with mail still queued; it was not sent");
    }
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests, and waits until it is down.
    pub async fn stop(self) {
        self.key_refresh.abort();
        self.maintenance.abort();
        self.handle.stop(true).await;
        let _ = self.task.await;
        drain_mail(self.mail).await;
    }

    /// Waits until the server ends (after a signal).
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.task.await;
        self.key_refresh.abort();
        self.maintenance.abort();
        drain_mail(self.mail).await;
        result.context("server task failed")?.context("server failed")
    }
}

/// Opens the database pool for `config` and applies pending migrations.
///
/// # Errors
/// When the database is unreachable or a migration fails; the message says which.
pub fn open_database(config: &Config) -> anyhow::Result<DbPool> {
    let settings = PoolSettings { max_size: config.db_pool_size, ..PoolSettings::default() };
    let pool = connect(&config.database_url, settings).context("opening the database (PORTCULLIS_DATABASE_URL)")?;
    let applied = run_migrations(&pool)?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(pool)
}

fn secs(value: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX))
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

/// How a caller changes the shaku module before it is built (see [`spawn_with`]).
pub type Customize = Box<dyn FnOnce(ModuleBuilder<AppModule>) -> ModuleBuilder<AppModule> + Send>;

fn build_state(config: &Config, customize: Customize) -> anyhow::Result<(AppState, MailQueue, DbPool)> {
    let trusted_proxies = portcullis_api::client_ip::parse_trusted_proxies(&config.trusted_proxies)
        .map_err(anyhow::Error::msg)
        .context("PORTCULLIS_TRUSTED_PROXIES")?;
    let pool = open_database(config)?;
    ensure_signing_key(&pool, Utc::now())?;
    let keys = Arc::new(RwLock::new(Arc::new(load_key_ring(&pool)?)));
    let cost = BcryptCost::new(config.bcrypt_cost).context("PORTCULLIS_BCRYPT_COST")?;
    let hashing = HashingPool::start(config.hash_workers, config.hash_queue, cost)?;
    let mail = build_mailer(&mail_settings(config))?;
    let metrics = Metrics::new(pool.clone(), Arc::clone(&hashing), mail.stats());
    let maintenance_pool = pool.clone();
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
        min_password_score: MinPasswordScore::new(config.min_password_score)
            .context("PORTCULLIS_MIN_PASSWORD_SCORE")?,
        rate_limit: RateQuota::per_minute(config.rate_limit_per_minute),
        lockout: LockoutPolicy::new(config.lockout_threshold, config.lockout_secs),
        mail: mail.clone(),
        public_url: issuer(config),
    }))
    .build();
    let state = AppState {
        module: Arc::new(module),
        settings: ApiSettings {
            cookie_secure: config.cookie_secure,
            access_ttl_secs: config.access_ttl_secs,
            refresh_ttl_secs: config.refresh_ttl_secs,
            issuer: issuer(config),
            trusted_proxies,
            allowed_origins: config.allowed_origins.clone(),
        },
        metrics,
    };
    Ok((state, mail, maintenance_pool))
}

/// Migrates the database, builds the service from `config`, binds, and serves in the background.
///
/// # Errors
/// Anything that stops start-up: database unreachable, migration or key failure, bind failure.
pub async fn spawn(config: Config) -> anyhow::Result<RunningServer> {
    spawn_with(config, Box::new(|builder| builder)).await
}

/// As [`spawn`], letting `customize` override components of the shaku module first: the way a
/// team plugs its own [`SignupPolicy`](portcullis_application::ports::SignupPolicy) or
/// [`ClaimsExtension`](portcullis_application::ports::ClaimsExtension) into the service
/// (see `examples/extend_domain.rs`).
///
/// # Errors
/// As [`spawn`].
pub async fn spawn_with(config: Config, customize: Customize) -> anyhow::Result<RunningServer> {
    let setup = config.clone();
    let (state, mail, pool) =
        tokio::task::spawn_blocking(move || build_state(&setup, customize)).await.context("start-up task failed")??;
    let reloader: Arc<dyn KeyRingReloader> = state.module.resolve();
    let key_refresh = tokio::spawn(refresh_keys_periodically(reloader));
    let maintenance = tokio::spawn(sweep_periodically(pool, secs(config.access_ttl_secs) + KEY_RETIREMENT_MARGIN));
    let state = web::Data::new(state);
    let workers = std::thread::available_parallelism().map(usize::from).unwrap_or(2).max(2);
    let server = HttpServer::new(move || build_app(state.clone()))
        .workers(workers)
        .shutdown_timeout(10)
        .bind(&config.bind)
        .with_context(|| format!("binding {} (PORTCULLIS_BIND)", config.bind))?;
    let addr = *server.addrs().first().context("the server has no address")?;
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%addr, public_url = %config.public_url, "Portcullis is listening");
    Ok(RunningServer { addr, handle, task, key_refresh, maintenance, mail })
}

/// How often each instance deletes expired sessions, refresh and mailed tokens, and signing
/// keys whose tokens have all expired.
const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// How long after its successor a retired key is kept beyond the access-token lifetime: time
/// for every instance to start signing with the successor, plus clock skew.
const KEY_RETIREMENT_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

async fn sweep_periodically(pool: DbPool, keep_retired_keys_for: chrono::Duration) {
    let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let pool = pool.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            let swept = sweep_expired(&pool, now).map_err(anyhow::Error::from)?;
            let keys = prune_retired_keys(&pool, now, keep_retired_keys_for).map_err(anyhow::Error::from)?;
            Ok::<_, anyhow::Error>((swept, keys))
        })
        .await;
        match outcome {
            Ok(Ok((swept, keys))) => tracing::info!(
                sessions = swept.sessions,
                refresh_tokens = swept.refresh_tokens,
                account_tokens = swept.account_tokens,
                signing_keys = keys,
                "expired rows swept"
            ),
            Ok(Err(error)) => tracing::warn!(%error, "sweeping expired rows failed"),
            Err(error) => tracing::warn!(%error, "sweeping expired rows did not finish"),
        }
    }
}

/// How often every instance re-reads the signing keys, so a key rotated anywhere signs
/// here within this time (tokens naming a new key are accepted at once regardless).
const KEY_REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

async fn refresh_keys_periodically(reloader: Arc<dyn KeyRingReloader>) {
    let mut ticks = tokio::time::interval(KEY_REFRESH_INTERVAL);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let reloader = Arc::clone(&reloader);
        match tokio::task::spawn_blocking(move || reloader.reload()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "periodic signing-key reload failed"),
            Err(error) => tracing::warn!(%error, "periodic signing-key reload did not finish"),
        }
    }
}
