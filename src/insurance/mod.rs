//! Insurance coverage: the policies the front desk copies from a patient's card (payer,
//! member id, group, subscriber), ranked primary, secondary, tertiary; a policy that no
//! longer applies is ended with its reason, never deleted. Card images arrive with
//! documents.

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/insurance";

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewBilling);
    let edit = Access::Staff(Permission::EditInsurance);
    Routes::new()
        .chart_tab(SECTION, "Insurance", 35)
        .get(SECTION, view, Phi::Reads, handlers::section)
        .post(SECTION, edit, Phi::Writes, handlers::add)
        .post("/patients/{patient_id}/insurance/{policy_id}/end", edit, Phi::Writes, handlers::end)
}
