//! A patient's phone numbers and e-mail addresses, and where messages may safely go:
//! E.164 normalization, the safe-for-voicemail / SMS / e-mail flags (unknown = unsafe),
//! verification and soft removal. A chart section.

pub mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/contacts";

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewContacts);
    let edit = Access::Staff(Permission::EditContacts);
    Routes::new()
        .chart_tab(SECTION, "Contacts", 10)
        .get(SECTION, view, Phi::Reads, handlers::section)
        .post("/patients/{patient_id}/contacts", edit, Phi::Writes, handlers::add)
        .post(
            "/patients/{patient_id}/contacts/preferences",
            Access::Staff(Permission::EditContactSafety),
            Phi::Writes,
            handlers::preferences,
        )
        .get("/patients/{patient_id}/contacts/{contact_id}/edit", edit, Phi::Reads, handlers::edit)
        .post("/patients/{patient_id}/contacts/{contact_id}", edit, Phi::Writes, handlers::update)
        .post("/patients/{patient_id}/contacts/{contact_id}/verify", edit, Phi::Writes, handlers::verify)
        .post("/patients/{patient_id}/contacts/{contact_id}/remove", edit, Phi::Writes, handlers::remove)
}
