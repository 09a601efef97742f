//! Running application commands on actix's blocking pool, inside the request's span, so a
//! command's span (and everything it logs) carries the request id.

use actix_web::error::BlockingError;
use actix_web::web;

/// [`web::block`], entering the caller's current `tracing` span on the blocking thread.
///
/// # Errors
/// [`BlockingError`] when the blocking pool is gone or the closure panicked.
pub async fn run<F, R>(work: F) -> Result<R, BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    web::block(move || span.in_scope(work)).await
}
