//! The clinic administrator's members page: who works here in which role, invitations,
//! role changes, deactivation, second-factor resets, and the two-person rule: what an
//! administrator may not do for themselves (another role here, their own factor reset)
//! they ask for, and a second administrator approves or declines.

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
        .post("/members/{membership_id}/reset-factor", manage, Phi::None, handlers::reset_factor)
        .post("/members/{membership_id}/privacy-officer", manage, Phi::None, handlers::privacy_officer)
        .post("/members/requests", manage, Phi::None, handlers::request)
        .post("/members/requests/{request_id}/approve", manage, Phi::None, handlers::approve)
        .post("/members/requests/{request_id}/decline", manage, Phi::None, handlers::decline)
        .post("/members/requests/{request_id}/withdraw", manage, Phi::None, handlers::withdraw)
}
