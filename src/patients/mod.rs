//! The patient registry: finding patients (search that stays an index lookup under
//! row-level security), registering them with duplicate detection; and the chart's
//! summary and demographics sections (the frame around them is `crate::chart`).

pub mod domain;
mod handlers;
pub(crate) mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Audience, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}";

pub fn routes() -> Routes {
    let search = Access::Staff(Permission::SearchPatients);
    let register = Access::Staff(Permission::RegisterPatient);
    let view = Access::Staff(Permission::ViewDemographics);
    let edit = Access::Staff(Permission::EditDemographics);
    let remove = Access::Staff(Permission::RemovePatient);
    Routes::new()
        .chart_tab(SECTION, "Summary", 0)
        .nav("Patients", "/patients", Audience::Staff(Permission::SearchPatients), 10)
        .get("/patients", search, Phi::Reads, handlers::registry)
        .post("/patients/search", search, Phi::Reads, handlers::search)
        .get("/patients/new", register, Phi::None, handlers::new_patient)
        .post("/patients", register, Phi::Writes, handlers::register)
        .get(SECTION, view, Phi::Reads, handlers::summary)
        .get("/patients/{patient_id}/edit", edit, Phi::Reads, handlers::edit)
        .post("/patients/{patient_id}", edit, Phi::Writes, handlers::update)
        .get("/patients/{patient_id}/remove", remove, Phi::Reads, handlers::remove_page)
        .post("/patients/{patient_id}/remove", remove, Phi::Writes, handlers::remove)
        .get("/patients/removed", remove, Phi::Reads, handlers::removed)
        .post("/patients/removed/{patient_id}/restore", remove, Phi::Writes, handlers::restore)
}
