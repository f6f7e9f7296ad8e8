//! The start page.

mod handlers;
mod views;

use axum::Router;
use axum::routing::get;

use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(handlers::index))
}
