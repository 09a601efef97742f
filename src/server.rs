//! Starting and stopping the HTTP service: build the [`Service`] from the configuration (the
//! composition root does the wiring), put its use cases behind actix-web, bind, serve; in the
//! background re-read the signing keys and sweep expired rows.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{HttpServer, web};
use anyhow::Context;
use portcullis_api::{ApiSettings, AppState, Metrics, build_app};
use portcullis_application::ports::{KeyRingReloader, error_chain};
use portcullis_service::{Customize, Housekeeper, Service};

use crate::config::Config;

pub use portcullis_service::issuer;

/// A server running in the background on the current Tokio runtime.
pub struct RunningServer {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    key_refresh: tokio::task::JoinHandle<()>,
    maintenance: tokio::task::JoinHandle<()>,
    service: Service,
}

/// How long a stopping server lets the mail worker deliver what is due.
const MAIL_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn shut_down(service: Service) {
    let drained = tokio::task::spawn_blocking(move || service.shutdown(MAIL_DRAIN_TIMEOUT)).await.unwrap_or(false);
    if !drained {
        tracing::warn!("stopped while mail was being delivered; what was not sent waits in the outbox");
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

    /// The service behind the HTTP server (its use cases and ports).
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Stops accepting, finishes in-flight requests, and waits until it is down.
    pub async fn stop(self) {
        self.key_refresh.abort();
        self.maintenance.abort();
        self.handle.stop(true).await;
        let _ = self.task.await;
        shut_down(self.service).await;
    }

    /// Waits until the server ends (after a signal).
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.task.await;
        self.key_refresh.abort();
        self.maintenance.abort();
        shut_down(self.service).await;
        result.context("server task failed")?.context("server failed")
    }
}

/// Builds the service from `config`, binds, and serves in the background.
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
    let trusted_proxies = portcullis_api::client_ip::parse_trusted_proxies(&config.trusted_proxies)
        .map_err(anyhow::Error::msg)
        .context("PORTCULLIS_TRUSTED_PROXIES")?;
    let setup = config.clone();
    let service = tokio::task::spawn_blocking(move || Service::start_with(&setup, customize))
        .await
        .context("start-up task failed")??;
    let ports = service.ports().clone();
    let key_refresh = tokio::spawn(refresh_keys_periodically(Arc::clone(&ports.key_reloader)));
    let maintenance = tokio::spawn(sweep_periodically(service.housekeeper()));
    let state = web::Data::new(AppState {
        use_cases: service.use_cases().clone(),
        metrics: Metrics::new(Arc::clone(&ports.resources)),
        ports,
        settings: ApiSettings {
            cookie_secure: config.cookie_secure,
            admin_requires_mfa: config.admin_requires_mfa,
            body_timeout_secs: config.body_timeout_secs,
            access_ttl_secs: config.access_ttl_secs,
            refresh_ttl_secs: config.refresh_ttl_secs,
            issuer: issuer(&config),
            trusted_proxies,
            allowed_origins: config.allowed_origins.clone(),
        },
    });
    let workers = std::thread::available_parallelism().map(usize::from).unwrap_or(2).max(2);
    let server = HttpServer::new(move || build_app(state.clone()))
        .workers(workers)
        .shutdown_timeout(10)
        .bind(&config.bind)
        .with_context(|| format!("binding {} (PORTCULLIS_BIND)", config.bind));
    let server = match server {
        Ok(server) => server,
        Err(error) => {
            // Nothing was served, so no mail was written; the worker ends in the background (an
            // await here would keep the non-`Send` server builder alive across it).
            key_refresh.abort();
            maintenance.abort();
            drop(tokio::task::spawn_blocking(move || service.shutdown(MAIL_DRAIN_TIMEOUT)));
            return Err(error);
        }
    };
    let addr = *server.addrs().first().context("the server has no address")?;
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%addr, public_url = %config.public_url, "Portcullis is listening");
    Ok(RunningServer { addr, handle, task, key_refresh, maintenance, service })
}

/// How often each instance deletes expired sessions, refresh and mailed tokens, and signing
/// keys whose tokens have all expired.
const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

async fn sweep_periodically(housekeeper: Housekeeper) {
    let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let housekeeper = housekeeper.clone();
        match tokio::task::spawn_blocking(move || housekeeper.run_now()).await {
            Ok(Ok(report)) => tracing::info!(
                sessions = report.sessions,
                refresh_tokens = report.refresh_tokens,
                account_tokens = report.account_tokens,
                oauth_flows = report.oauth_flows,
                mfa_challenges = report.mfa_challenges,
                passkey_ceremonies = report.passkey_ceremonies,
                signing_keys = report.signing_keys,
                "expired rows swept"
            ),
            Ok(Err(error)) => tracing::warn!(error = %error_chain(&error), "sweeping expired rows failed"),
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
            Ok(Err(error)) => tracing::warn!(error = %error.detail(), "periodic signing-key reload failed"),
            Err(error) => tracing::warn!(%error, "periodic signing-key reload did not finish"),
        }
    }
}
