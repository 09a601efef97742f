//! `GET /metrics` (Prometheus text format) and the per-request middleware that feeds it and
//! gives every request an id (`X-Request-Id`) and one tracing span.
//!
//! Each server instance has its own [`Metrics`] (its own registry), so several servers in one
//! process never mix their counts. Requests are labelled by the route *pattern*
//! (`/api/auth/sessions/{id}`), never the raw path; unrouted requests are `unmatched`.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, web};
use portcullis_application::ports::ResourceMonitor;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use tracing::Instrument;

use crate::state::AppState;

/// The request-id header, on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming request id that is echoed.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// One server's metrics: its registry and every collector in it.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    logins: IntCounterVec,
    refreshes: IntCounter,
    refresh_reuse: IntCounter,
    rate_limited: IntCounterVec,
    hashing_queue: IntGauge,
    db_connections: IntGauge,
    db_idle: IntGauge,
    db_max: IntGauge,
    mail_sent: IntCounter,
    mail_failed: IntCounter,
    mail_retried: IntCounter,
    mail_queue: IntGauge,
    mail_oldest: IntGauge,
    resources: Arc<dyn ResourceMonitor>,
    /// Serialises scrapes, so two at once cannot both add the same mail-counter increase.
    render_lock: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn register<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, collector: C) -> C {
    registry.register(Box::new(collector.clone())).expect("metric names are unique and valid");
    collector
}

impl Metrics {
    /// A fresh registry reading the pools' and queues' state from `resources` when scraped.
    ///
    /// # Panics
    /// Never in practice: the metric definitions are constant and valid.
    pub fn new(resources: Arc<dyn ResourceMonitor>) -> Self {
        let registry = Registry::new();
        let http_requests = register(
            &registry,
            IntCounterVec::new(
                Opts::new("portcullis_http_requests_total", "HTTP requests answered, by route pattern and status"),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
        );
        let http_duration = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "portcullis_http_request_duration_seconds",
                    "Time to answer an HTTP request, by route pattern and status",
                ),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
        );
        let logins = register(
            &registry,
            IntCounterVec::new(
                Opts::new("portcullis_logins_total", "Login attempts (cookie login and password grant), by result"),
                &["result"],
            )
            .expect("valid metric"),
        );
        let refreshes = register(
            &registry,
            IntCounter::new("portcullis_refreshes_total", "Successful refresh-token rotations").expect("valid metric"),
        );
        let refresh_reuse = register(
            &registry,
            IntCounter::new(
                "portcullis_refresh_reuse_detections_total",
                "Refresh tokens reused after the grace window (the session was revoked)",
            )
            .expect("valid metric"),
        );
        let rate_limited = register(
            &registry,
            IntCounterVec::new(
                Opts::new("portcullis_rate_limited_requests_total", "Requests answered 429, by route pattern"),
                &["route"],
            )
            .expect("valid metric"),
        );
        let hashing_queue = register(
            &registry,
            IntGauge::new("portcullis_hashing_queue_depth", "Password hashes waiting for a hashing thread")
                .expect("valid metric"),
        );
        let db_connections = register(
            &registry,
            IntGauge::new("portcullis_db_pool_connections", "Database connections open in the pool")
                .expect("valid metric"),
        );
        let db_idle = register(
            &registry,
            IntGauge::new("portcullis_db_pool_idle_connections", "Idle database connections in the pool")
                .expect("valid metric"),
        );
        let db_max = register(
            &registry,
            IntGauge::new("portcullis_db_pool_max_size", "The most connections the pool opens").expect("valid metric"),
        );
        let mail_sent = register(
            &registry,
            IntCounter::new(
                "portcullis_mail_sent_total",
                "Mails this instance handed to the mail folder or SMTP server",
            )
            .expect("valid metric"),
        );
        let mail_failed = register(
            &registry,
            IntCounter::new(
                "portcullis_mail_failed_total",
                "Mails this instance gave up on (retried for too long, or impossible to build)",
            )
            .expect("valid metric"),
        );
        let mail_retried = register(
            &registry,
            IntCounter::new("portcullis_mail_retried_total", "Failed delivery attempts this instance scheduled again")
                .expect("valid metric"),
        );
        let mail_queue = register(
            &registry,
            IntGauge::new("portcullis_mail_queue_depth", "Mails waiting in the outbox (every instance's)")
                .expect("valid metric"),
        );
        let mail_oldest = register(
            &registry,
            IntGauge::new("portcullis_mail_oldest_age_seconds", "Age of the oldest mail waiting in the outbox")
                .expect("valid metric"),
        );
        let build_info = register(
            &registry,
            IntGaugeVec::new(Opts::new("portcullis_build_info", "Always 1; the version in a label"), &["version"])
                .expect("valid metric"),
        );
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        // Every family is exposed from the start (a labelled one only once it has a series).
        for result in ["succeeded", "failed"] {
            logins.with_label_values(&[result]);
        }
        for (path, _) in crate::rate_limit::LIMITED_ENDPOINTS {
            rate_limited.with_label_values(&[path]);
        }
        Self {
            registry,
            http_requests,
            http_duration,
            logins,
            refreshes,
            refresh_reuse,
            rate_limited,
            hashing_queue,
            db_connections,
            db_idle,
            db_max,
            mail_sent,
            mail_failed,
            mail_retried,
            mail_queue,
            mail_oldest,
            resources,
            render_lock: std::sync::Mutex::new(()),
        }
    }

    /// Counts a login attempt that got an answer from the application (success or refusal).
    pub fn login(&self, succeeded: bool) {
        self.logins.with_label_values(&[if succeeded { "succeeded" } else { "failed" }]).inc();
    }

    /// Counts a successful refresh-token rotation.
    pub fn refreshed(&self) {
        self.refreshes.inc();
    }

    /// Counts a refresh token reused after the grace window.
    pub fn refresh_reuse_detected(&self) {
        self.refresh_reuse.inc();
    }

    fn request(&self, method: &str, route: &str, status: StatusCode, seconds: f64) {
        let status_label = status.as_str();
        self.http_requests.with_label_values(&[method, route, status_label]).inc();
        self.http_duration.with_label_values(&[method, route, status_label]).observe(seconds);
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited.with_label_values(&[route]).inc();
        }
    }

    /// The registry in Prometheus text format, with the gauges read now.
    pub fn render(&self) -> String {
        let _serialised = self.render_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.resources.read();
        self.db_connections.set(i64::from(now.db_connections));
        self.db_idle.set(i64::from(now.db_idle_connections));
        self.db_max.set(i64::from(now.db_max_connections));
        self.hashing_queue.set(i64::try_from(now.hashing_queue_depth).unwrap_or(i64::MAX));
        // The mail worker counts on its own thread; bring the counters up to its totals.
        self.mail_sent.inc_by(now.mail_sent.saturating_sub(self.mail_sent.get()));
        self.mail_failed.inc_by(now.mail_failed.saturating_sub(self.mail_failed.get()));
        self.mail_retried.inc_by(now.mail_retried.saturating_sub(self.mail_retried.get()));
        self.mail_queue.set(i64::try_from(now.mail_queue_depth).unwrap_or(i64::MAX));
        self.mail_oldest.set(i64::try_from(now.mail_oldest_age_secs).unwrap_or(i64::MAX));
        let mut buffer = Vec::new();
        if let Err(error) = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "encoding the metrics failed");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The metrics of this server.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text exposition format (version 0.0.4)", body = String,
        content_type = "text/plain; version=0.0.4")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(state.metrics.render())
}

/// Whether an incoming request id is echoed: 1–128 characters of `[A-Za-z0-9._-]`.
pub fn is_sane_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The request id of a request (stored in its extensions by [`observe`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The outermost middleware: request id, one span per request, and the HTTP metrics.
///
/// # Errors
/// Only what the inner service returns (counted, without the header: there is no response yet).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_request_id(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = tracing::field::Empty,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    // (Never clone the request before routing: the router needs it unshared.)
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let outcome = next.call(req).instrument(span.clone()).await;
    let (route, status) = match &outcome {
        Ok(response) => (response.request().match_pattern().unwrap_or_else(|| UNMATCHED.to_owned()), response.status()),
        // Handlers' and extractors' errors are responses by now; this is a middleware failing.
        Err(error) => (UNMATCHED.to_owned(), error.as_response_error().status_code()),
    };
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state.metrics.request(&method, &route, status, elapsed.as_secs_f64());
    }
    span.record("route", route.as_str());
    span.record("status", status.as_u16());
    span.record("latency_ms", u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!("request finished");
        } else {
            tracing::info!("request finished");
        }
    });
    let mut response = outcome?.map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_echoed() {
        assert!(is_sane_request_id("abc-123_X.y"));
        assert!(is_sane_request_id(&"a".repeat(128)));
        assert!(!is_sane_request_id(&"a".repeat(129)));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("a b"));
        assert!(!is_sane_request_id("a\u{e9}"));
        assert!(!is_sane_request_id("<script>"));
    }
}
