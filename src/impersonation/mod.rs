//! Impersonation for support: a clinic administrator acts as another member of the same
//! clinic, in a role below their own, with a reason, to see what that member sees. The
//! session gets a new id at the start and at the end; a banner is on every page; while it
//! lasts nothing about anyone's sign-in can change (password, factors, e-mail, sessions),
//! no other context is entered and nothing nests (`web::routes` refuses it); every audit
//! event and row-history entry names both people (actor the administrator, acting for
//! the member); the member's permissions apply, not the administrator's.

mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::auth::signin::FlowPage;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    let manage = Access::Staff(Permission::ManageMembers);
    Routes::new()
        .flow_page(FlowPage::EndImpersonation, "/impersonation/end")
        .nav("Act as a member", "/impersonation", Audience::Staff(Permission::ManageMembers), 45)
        .get("/impersonation", manage, Phi::None, handlers::page)
        .post("/impersonation", manage, Phi::None, handlers::start)
        .post("/impersonation/end", Access::SignedIn, Phi::None, handlers::end)
}
