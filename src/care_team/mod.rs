//! A patient's care team: the providers (primary, specialist, consultant) responsible for
//! them. Where the organization restricts charts to care teams, this list decides which
//! clinicians may read the clinical record. A chart section.

mod handlers;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewCareTeam);
    let manage = Access::Staff(Permission::ManageCareTeam);
    Routes::new()
        .chart_tab("care-team", "Care team", 20)
        .get("/patients/{patient_id}/care-team", view, Phi::Reads, handlers::section)
        .post("/patients/{patient_id}/care-team", manage, Phi::Writes, handlers::add)
        .post("/patients/{patient_id}/care-team/{member_id}/remove", manage, Phi::Writes, handlers::remove)
}
