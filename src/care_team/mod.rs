//! A patient's care team: the providers (primary, specialist, consultant) responsible for
//! them. Where the organization restricts charts to care teams, this list decides which
//! clinicians may read the clinical record. A chart section.

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/care-team";

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewCareTeam);
    let manage = Access::Staff(Permission::ManageCareTeam);
    Routes::new()
        .chart_tab(SECTION, "Care team", 20)
        .get(SECTION, view, Phi::Reads, handlers::section)
        .post("/patients/{patient_id}/care-team", manage, Phi::Writes, handlers::add)
        .post("/patients/{patient_id}/care-team/{member_id}/remove", manage, Phi::Writes, handlers::remove)
}
