//! Emergency contacts: the people to call when something happens to the patient. Not a
//! contact method of the patient's: no reminder, text or e-mail ever goes to them (the
//! contact gate never reads this table), and the page says so; staff call them by hand.

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/emergency-contacts";

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewContacts);
    let edit = Access::Staff(Permission::EditContacts);
    Routes::new()
        .chart_tab(SECTION, "Emergency contacts", 11)
        .get(SECTION, view, Phi::Reads, handlers::section)
        .post(SECTION, edit, Phi::Writes, handlers::add)
        .post(
            "/patients/{patient_id}/emergency-contacts/{emergency_contact_id}/remove",
            edit,
            Phi::Writes,
            handlers::remove,
        )
}
