//! The Fortunes page of benchmark S1: one small table read, a row added at request time,
//! sorted, escaped and rendered, through the application's own stack (the full
//! middleware, the shared reads or the runtime pool, askama and the render layer). It is
//! the shape of the well-known web framework benchmark, so our per-request cost can be
//! compared with a bare tokio-postgres handler doing the same work.
//!
//! Served only by `lockdev bench floor`, never by `serve`; the table (`bench.fortune`) is
//! created by `lockdev bench seed` (`bench::data::seed_fortunes`).

mod handlers;
mod views;

use crate::web::{Access, Phi, Routes};

/// The fortune every request adds before sorting, so the page is never a cached copy of
/// the table.
pub const ADDED_AT_REQUEST_TIME: &str = "A fortune written while you waited.";

pub fn routes() -> Routes {
    Routes::new().get("/fortunes", Access::Public, Phi::None, handlers::fortunes)
}
