//! Health: `/health` (the process is up), `/health/deep` (the database answers as the
//! runtime role, the schema matches this binary) and `/status`, the same facts as a page
//! and as the htmx panel on the start page.

mod domain;
mod handlers;
mod views;

pub use domain::{Check, HealthReport};

use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new()
        .nav("System status", "/status", Audience::SignedOut, 10)
        .get("/health", Access::Probe, Phi::None, handlers::live)
        .get("/health/deep", Access::Probe, Phi::None, handlers::deep)
        .get("/status", Access::Public, Phi::None, handlers::status)
}
