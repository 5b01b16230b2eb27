//! `/dashboard`: the live dashboard page and the Socket.IO browser client it loads, both
//! compiled into the binary so the page works without internet access.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use super::AppState;

const PAGE: &str = include_str!("../../assets/dashboard.html");
/// The official client, `socket.io-client` 4.8.3 from npm (`scripts/vendor-socket-io.sh`).
const SOCKET_IO_CLIENT: &str = include_str!("../../assets/vendor/socket.io.min.js");

/// The dashboard routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/socket.io.min.js", get(client))
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn client() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        SOCKET_IO_CLIENT,
    )
}
