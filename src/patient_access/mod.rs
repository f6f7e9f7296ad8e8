//! A patient's online access, managed by staff: inviting the patient to the portal, and
//! granting, scoping and revoking proxies (parents, guardians, POA, spouses). A grant is
//! created pending and becomes active when the proxy accepts the invitation; a revoke
//! takes effect on the proxy's very next request.

mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/access";

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewProxies);
    let manage = Access::Staff(Permission::ManageProxies);
    Routes::new()
        .chart_tab(SECTION, "Proxies & portal", 30)
        .get(SECTION, view, Phi::Reads, handlers::page)
        .post("/patients/{patient_id}/portal-invitation", manage, Phi::Writes, handlers::invite_patient)
        .post("/patients/{patient_id}/proxies", manage, Phi::Writes, handlers::invite_proxy)
        .post("/patients/{patient_id}/proxies/{assignment_id}", manage, Phi::Writes, handlers::update_proxy)
        .post(
            "/patients/{patient_id}/proxies/{assignment_id}/revoke",
            manage,
            Phi::Writes,
            handlers::revoke_proxy,
        )
}
