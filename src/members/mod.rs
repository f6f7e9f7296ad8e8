//! The clinic administrator's members page: who works here in which role, invitations,
//! role changes and deactivation. (The full administration console comes later.)

mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    let manage = Access::Staff(Permission::ManageMembers);
    Routes::new()
        .nav("Members", "/members", Audience::Staff(Permission::ManageMembers), 40)
        .get("/members", manage, Phi::None, handlers::page)
        .post("/members/invite", manage, Phi::None, handlers::invite)
        .post("/members/{membership_id}/role", manage, Phi::None, handlers::change_role)
        .post("/members/{membership_id}/deactivate", manage, Phi::None, handlers::deactivate)
        .post("/members/{membership_id}/cancel-invitation", manage, Phi::None, handlers::cancel_invitation)
        .post("/members/{membership_id}/resend", manage, Phi::None, handlers::resend)
        .post("/members/{membership_id}/reactivate", manage, Phi::None, handlers::reactivate)
}
