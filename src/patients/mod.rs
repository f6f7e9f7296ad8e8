//! The patient registry and the chart: finding patients (search that stays an index
//! lookup under row-level security), registering them with duplicate detection, the
//! chart frame every section is served in, and the summary and demographics sections.

pub mod chart;
pub mod domain;
mod handlers;
pub mod repo;
mod views;

pub use handlers::local;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    let search = Access::Tenant(Permission::SearchPatients);
    let register = Access::Tenant(Permission::RegisterPatient);
    let view = Access::Tenant(Permission::ViewDemographics);
    let edit = Access::Tenant(Permission::EditDemographics);
    Routes::new()
        .get("/patients", search, Phi::Reads, handlers::registry)
        .post("/patients/search", search, Phi::Reads, handlers::search)
        .get("/patients/new", register, Phi::None, handlers::new_patient)
        .post("/patients", register, Phi::Writes, handlers::register)
        .get("/patients/{patient_id}", view, Phi::Reads, handlers::summary)
        .get("/patients/{patient_id}/edit", edit, Phi::Reads, handlers::edit)
        .post("/patients/{patient_id}", edit, Phi::Writes, handlers::update)
        .post("/patients/{patient_id}/remove", edit, Phi::Writes, handlers::remove)
}
