//! `/dashboard`: the live dashboard page, its script and styles, and the Socket.IO browser
//! client it loads, all compiled into the binary so the page works without internet access.
//! No inline script or style: the page satisfies the Content-Security-Policy every response
//! carries.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use super::AppState;

const PAGE: &str = include_str!("../../assets/dashboard.html");
const SCRIPT: &str = include_str!("../../assets/dashboard.js");
const STYLES: &str = include_str!("../../assets/dashboard.css");
/// The official client, `socket.io-client` 4.8.3 from npm (`scripts/vendor-socket-io.sh`).
const SOCKET_IO_CLIENT: &str = include_str!("../../assets/vendor/socket.io.min.js");

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The dashboard routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/app.js", get(|| asset(JAVASCRIPT, SCRIPT)))
        .route(
            "/dashboard/app.css",
            get(|| asset("text/css; charset=utf-8", STYLES)),
        )
        .route(
            "/dashboard/socket.io.min.js",
            get(|| asset(JAVASCRIPT, SOCKET_IO_CLIENT)),
        )
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
}
