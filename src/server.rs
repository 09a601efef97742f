//! Starting and stopping the HTTP service.

use std::net::SocketAddr;

use crate::config::Config;

/// A server running in the background on the current Tokio runtime.
pub struct RunningServer {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
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
        self.handle.stop(true).await;
    }
}

/// Migrates the database, builds the service from `config`, binds, and serves in the background.
///
/// # Errors
/// Anything that stops start-up: database unreachable, migration or key failure, bind failure.
pub async fn spawn(config: Config) -> anyhow::Result<RunningServer> {
    let _ = config;
    anyhow::bail!("not yet wired")
}
