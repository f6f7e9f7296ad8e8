//! The platform console's health (super admin): the job queue per clinic, the jobs that
//! used up their attempts (retried from the page), and each audit chain's sealing lag and
//! last verification. Counts, kinds, times and sequence numbers: never patient data (a
//! job's error is shown with addresses and numbers masked).

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::PlatformRole;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    let platform = Access::Platform(PlatformRole::SuperAdmin);
    Routes::new()
        .nav("Health", "/platform/health", Audience::PlatformRole(PlatformRole::SuperAdmin), 40)
        .get("/platform/health", platform, Phi::None, handlers::page)
        .post("/platform/health/jobs/{job_id}/retry", platform, Phi::None, handlers::retry)
}
