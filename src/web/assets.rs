//! Static files, embedded at build time and served under content-hashed URLs.
//!
//! `build.rs` hashes every file in `static/`; templates ask [`url`] for the hashed URL of
//! a logical name (`{{ crate::web::assets::url("css/app.css") }}`), so a file can be
//! cached for a year (`immutable`) and a new build still reaches every browser at once.
//! Only hashed URLs are served: an old or guessed name is a 404.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::web::{Access, AppError, Phi, Routes};

/// One embedded file.
pub struct Asset {
    /// The path under `static/`, e.g. `css/app.css`.
    pub logical: &'static str,
    /// Where it is served, e.g. `/static/css/app.1a2b3c4d5e6f.css`.
    pub url: &'static str,
    pub content_type: &'static str,
    /// Subresource-integrity value (`sha384-…`) for `<script integrity>`.
    pub integrity: &'static str,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

fn find(logical: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.logical == logical)
}

/// The hashed URL of a logical asset name. An unknown name yields a URL that 404s, and
/// the test `every_asset_named_in_a_template_exists` keeps that from shipping.
pub fn url(logical: &str) -> &'static str {
    find(logical).map_or("/static/missing", |a| a.url)
}

/// The subresource-integrity value of a logical asset name.
pub fn integrity(logical: &str) -> &'static str {
    find(logical).map_or("", |a| a.integrity)
}

/// Every embedded asset (for tests and the asset list in `check-config`).
pub fn all() -> &'static [Asset] {
    ASSETS
}

pub fn routes() -> Routes {
    Routes::new().get("/static/{*path}", Access::Public, Phi::None, serve)
}

async fn serve(Path(path): Path<String>) -> Result<Response, AppError> {
    let wanted = format!("/static/{path}");
    let asset = ASSETS.iter().find(|a| a.url == wanted).ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        ],
        asset.bytes,
    )
        .into_response())
}
