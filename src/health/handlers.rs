use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use serde_json::json;

use super::HealthReport;
use super::views::{StatusPage, StatusPanelFragment};
use crate::web::{AppState, Page};

/// Liveness: answers at once, touches nothing.
pub async fn live() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok")
}

/// Readiness: 200 when every check passes, else 503 naming what fails.
pub async fn deep(State(state): State<AppState>) -> Response {
    let report = HealthReport::gather(&state.db).await;
    let status = if report.ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if report.ok() { "ok" } else { "fail" },
        "failing": report.failing(),
        "checks": report.checks,
        "queue": report.queue,
    });
    (status, Json(body)).into_response()
}

/// The same report for people: a page, or the panel when htmx asks.
pub async fn status(State(state): State<AppState>, HxRequest(fragment): HxRequest) -> Response {
    let report = HealthReport::gather(&state.db).await;
    if fragment {
        Page(StatusPanelFragment { report }).into_response()
    } else {
        Page(StatusPage { report }).into_response()
    }
}
