use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use serde_json::json;

use super::HealthReport;
use super::views::{StatusPage, StatusPanelFragment};
use crate::web::{Page, SystemTx};

/// Liveness: answers at once, touches nothing.
pub async fn live() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok")
}

/// Readiness: 200 when every check passes, else 503 naming what fails (details are in
/// the log, not in the answer).
pub async fn deep(mut tx: SystemTx) -> Response {
    let report = HealthReport::gather(&mut tx).await;
    let status = if report.ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if report.ok() { "ok" } else { "fail" },
        "failing": report.failing(),
        "checks": report.checks,
    });
    (status, Json(body)).into_response()
}

/// The same report for people: a page, or the panel when htmx asks.
pub async fn status(mut tx: SystemTx, HxRequest(fragment): HxRequest) -> Response {
    let report = HealthReport::gather(&mut tx).await;
    if fragment {
        Page(StatusPanelFragment { report }).into_response()
    } else {
        Page(StatusPage { report }).into_response()
    }
}
