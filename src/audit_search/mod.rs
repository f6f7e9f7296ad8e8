//! The compliance console's audit search (platform auditor): one clinic's audit log (or
//! the platform's), filtered by patient (record number), actor (e-mail address), action,
//! outcome, break-glass and period, newest first, paged by keyset. Identifiers are shown
//! (who, which record, from where); clinical content is not, and the log holds none.
//! Every search is itself audited. The accounting of disclosures is the same log for one
//! patient over a period, as one printable page: who accessed or disclosed the record,
//! when and why.

mod handlers;
mod repo;
mod views;

use crate::auth::policy::PlatformRole;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new()
        .nav("Audit log", "/compliance/audit", Audience::PlatformRole(PlatformRole::Auditor), 10)
        .get("/compliance/audit", Access::Platform(PlatformRole::Auditor), Phi::Reads, handlers::search)
        .get(
            "/compliance/disclosures",
            Access::Platform(PlatformRole::Auditor),
            Phi::Reads,
            handlers::disclosures,
        )
}
