//! The clinic's profile and its locations, kept by the clinic administrator: the name,
//! tax id (EIN), postal address and main phone number that letters, claims and patients'
//! messages name, and each place the clinic sees patients. Every change is audited with
//! its values before and after. (The timezone and the access rules are the settings page's.)

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    let manage = Access::Staff(Permission::ManageOrganization);
    Routes::new()
        .get("/settings/profile", manage, Phi::None, handlers::page)
        .post("/settings/profile", manage, Phi::None, handlers::save)
        .post("/settings/locations", manage, Phi::None, handlers::add_location)
        .post("/settings/locations/{location_id}/close", manage, Phi::None, handlers::close_location)
}
