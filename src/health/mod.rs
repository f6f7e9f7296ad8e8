//! Health: `/health` (the process is up), `/health/deep` (the database answers as the
//! runtime role, the schema matches this binary) and `/status`, the same facts as a page
//! and as the htmx panel on the start page.

mod domain;
mod handlers;
mod views;

use axum::Router;
use axum::routing::get;

pub use domain::{Check, HealthReport};

use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(handlers::live))
        .route("/health/deep", get(handlers::deep))
        .route("/status", get(handlers::status))
}
