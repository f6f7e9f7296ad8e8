//! Allergies and intolerances: a chart section clinicians keep (substance, reaction,
//! severity), with "no known allergies" as an explicit statement rather than an empty
//! list, so a chart nobody asked about reads "not recorded". The chart header shows the
//! current list to those who may read the clinical summary.

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/allergies";

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewClinicalSummary);
    let record = Access::Staff(Permission::RecordClinicalSummary);
    Routes::new()
        .chart_tab(SECTION, "Allergies", 12)
        .get(SECTION, view, Phi::Reads, handlers::section)
        .post(SECTION, record, Phi::Writes, handlers::add)
        .post("/patients/{patient_id}/allergies/none-known", record, Phi::Writes, handlers::none_known)
        .post("/patients/{patient_id}/allergies/{allergy_id}/end", record, Phi::Writes, handlers::end)
}
