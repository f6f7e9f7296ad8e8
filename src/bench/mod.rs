//! Benchmark-only code, kept in the binary so `just bench` measures exactly what ships:
//! the deterministic data generator (`lockdev bench seed`), the floors (a bare handler,
//! the Fortunes page through the full stack), and the job-queue measurements with their
//! probe and no-op job kinds. Nothing here is mounted by `lockdev serve` or registered
//! with its workers.

pub mod data;
pub mod fortunes;
pub mod jobs;
pub(crate) mod rate_limit;

use axum::Router;

/// The benchmark floor (F_http): one static handler, no middleware, no registry. Served
/// only by `lockdev bench floor`, never by `serve`.
#[allow(clippy::disallowed_methods)] // the one router built outside the registry, by design
pub fn floor() -> Router {
    Router::new().route("/", axum::routing::get(|| async { "ok" }))
}
