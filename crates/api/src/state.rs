//! [`AppState`]: what every request handler can reach.

use portcullis_application::{ServicePorts, UseCases};

use crate::metrics::Metrics;
use crate::settings::ApiSettings;

/// What every request handler can reach: the use cases, the ports the HTTP layer itself
/// needs (rate limits, readiness, key reloads, JWKS, gauges), HTTP settings and metrics.
pub struct AppState {
    /// Every use case of the application.
    pub use_cases: UseCases,
    /// The ports beyond the use cases.
    pub ports: ServicePorts,
    /// HTTP settings.
    pub settings: ApiSettings,
    /// This server's metrics (`GET /metrics`).
    pub metrics: Metrics,
}
