//! The ceiling of the HTTP harness: a bare poem server answering `GET /health` with a fixed JSON
//! body (the harness passes the real server's `/health` body), on the same poem and tokio.
//!
//! Usage: `bare-poem ADDR BODY_JSON`

use poem::http::header::CONTENT_TYPE;
use poem::listener::TcpListener;
use poem::{Response, Route, Server, get, handler};
use std::sync::OnceLock;

static BODY: OnceLock<String> = OnceLock::new();

#[handler]
fn health() -> Response {
    Response::builder()
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(BODY.get().cloned().unwrap_or_default())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8099".into());
    let body = args.next().unwrap_or_else(|| r#"{"status":"ok"}"#.into());
    // Validated once so the baseline serves JSON, as the real route does.
    serde_json::from_str::<serde_json::Value>(&body).map_err(std::io::Error::other)?;
    let _ = BODY.set(body);
    Server::new(TcpListener::bind(addr)).run(Route::new().at("/health", get(health))).await
}
