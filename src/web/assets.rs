//! Static files, embedded at build time and served under content-hashed URLs.
//!
//! `build.rs` hashes every file in `static/`; templates ask [`url`] for the hashed URL of
//! a logical name (`{{ crate::web::assets::url("css/app.css") }}`), so a file can be
//! cached for a year (`immutable`) and a new build still reaches every browser at once.
//! Only hashed URLs are served: an old or guessed name is a 404.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, header};
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
    /// The same bytes compressed at build time (text files only).
    pub brotli: Option<&'static [u8]>,
    pub gzip: Option<&'static [u8]>,
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
    Routes::new().get("/static/{*path}", Access::Machine, Phi::None, serve)
}

/// Serves the copy the browser accepts best: Brotli, else gzip, else the file as it is,
/// all made at build time (the compression layer leaves an encoded body alone).
async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    let wanted = format!("/static/{path}");
    let asset = ASSETS.iter().find(|a| a.url == wanted).ok_or(AppError::NotFound)?;
    let accepts = |coding: &str| {
        headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|item| {
                let mut parts = item.split(';');
                let name = parts.next().unwrap_or_default().trim();
                let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
                name.eq_ignore_ascii_case(coding) && !refused
            })
    };
    let (body, encoding) = match (asset.brotli, asset.gzip) {
        (Some(br), _) if accepts("br") => (br, Some("br")),
        (_, Some(gz)) if accepts("gzip") => (gz, Some("gzip")),
        _ => (asset.bytes, None),
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            (header::VARY, HeaderValue::from_static("accept-encoding")),
        ],
        body,
    )
        .into_response();
    if let Some(encoding) = encoding {
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    Ok(response)
}
