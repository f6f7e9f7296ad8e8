//! Member profiles, kept by the clinic administrator from a member's page: the staff
//! profile anyone may have (employee id, job title) and, for a provider, the provider
//! profile that makes them bookable and able to join care teams (NPI with its check
//! digit, DEA number, credentials, specialty), with their state licences and when each
//! expires. Every change is audited with its values before and after.

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    let manage = Access::Staff(Permission::ManageMembers);
    Routes::new()
        .get("/members/{membership_id}/profile", manage, Phi::None, handlers::page)
        .post("/members/{membership_id}/profile/staff", manage, Phi::None, handlers::save_staff)
        .post("/members/{membership_id}/profile/provider", manage, Phi::None, handlers::save_provider)
        .post("/members/{membership_id}/profile/licences", manage, Phi::None, handlers::add_licence)
        .post(
            "/members/{membership_id}/profile/licences/{licence_id}/remove",
            manage,
            Phi::None,
            handlers::remove_licence,
        )
}
