//! The problem list: a patient's conditions as clinicians keep them, in words with an
//! optional ICD-10-CM or SNOMED CT code, resolved with a date or ended as entered in error
//! (never deleted).

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/problems";

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewClinicalSummary);
    let record = Access::Staff(Permission::RecordClinicalSummary);
    Routes::new()
        .chart_tab(SECTION, "Problems", 14)
        .get(SECTION, view, Phi::Reads, handlers::section)
        .post(SECTION, record, Phi::Writes, handlers::add)
        .post("/patients/{patient_id}/problems/{problem_id}/resolve", record, Phi::Writes, handlers::resolve)
        .post(
            "/patients/{patient_id}/problems/{problem_id}/error",
            record,
            Phi::Writes,
            handlers::entered_in_error,
        )
}
