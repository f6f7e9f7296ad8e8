//! Active medications: what the patient takes, as the chart records it (name, dose,
//! frequency, since when, who prescribed) — a record for clinicians, not e-prescribing.
//! A medication stops with a date and a reason; nothing is deleted.

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/medications";

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewClinicalSummary);
    let record = Access::Staff(Permission::RecordClinicalSummary);
    Routes::new()
        .chart_tab(SECTION, "Medications", 13)
        .get(SECTION, view, Phi::Reads, handlers::section)
        .post(SECTION, record, Phi::Writes, handlers::add)
        .post("/patients/{patient_id}/medications/{medication_id}/stop", record, Phi::Writes, handlers::stop)
}
