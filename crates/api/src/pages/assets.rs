//! The stylesheet and the script, compiled into the binary (`include_str!`). Each answer has a
//! strong `ETag` made from a hash of the content and `Cache-Control: no-cache`: browsers keep a
//! copy but ask each time, and get `304` until a new build changes the file.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::problem::ApiError;

const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");
const ICON: &str = include_str!("../../assets/icon.svg");

/// Where the stylesheet is served.
pub const CSS_URL: &str = "/assets/app.css";
/// Where the script is served.
pub const JS_URL: &str = "/assets/app.js";
/// Where the icon (SVG) is served.
pub const ICON_URL: &str = "/assets/icon.svg";

fn etag(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

static CSS_ETAG: LazyLock<String> = LazyLock::new(|| etag(CSS));
static JS_ETAG: LazyLock<String> = LazyLock::new(|| etag(JS));
static ICON_ETAG: LazyLock<String> = LazyLock::new(|| etag(ICON));

/// `GET /assets/{file}`: the stylesheet, the script or the icon, with a strong `ETag` (answers
/// `304` to a matching `If-None-Match`) and `Cache-Control: no-cache` (revalidate each time);
/// any other file is `404`.
pub async fn asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let (body, content_type, tag) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8", CSS_ETAG.as_str()),
        "app.js" => (JS, "text/javascript; charset=utf-8", JS_ETAG.as_str()),
        "icon.svg" => (ICON, "image/svg+xml", ICON_ETAG.as_str()),
        _ => return HttpResponse::from_error(ApiError::not_found()),
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').map(str::trim).any(|candidate| matches(candidate, tag)));
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, tag.to_owned()))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")));
    if fresh { response.finish() } else { response.insert_header((header::CONTENT_TYPE, content_type)).body(body) }
}

/// `If-None-Match` uses the weak comparison (RFC 9110 §13.1.2): `W/"x"` matches `"x"`; `*`
/// matches anything.
fn matches(candidate: &str, tag: &str) -> bool {
    candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
}
