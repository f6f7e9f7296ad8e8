//! The platform console's roles (super admin): who holds super admin and auditor, a grant
//! to another person's open account and its revocation, each after step-up and audited
//! in the platform chain. Nobody grants or revokes their own role; the database checks
//! that again (see `platform_role_grant` in the migrations), and the person is told by
//! e-mail, as for every change to how they sign in.

mod handlers;
mod repo;
mod views;

use crate::auth::policy::PlatformRole;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    let platform = Access::Platform(PlatformRole::SuperAdmin);
    Routes::new()
        .nav("Platform roles", "/platform/roles", Audience::PlatformRole(PlatformRole::SuperAdmin), 30)
        .get("/platform/roles", platform, Phi::None, handlers::page)
        .post("/platform/roles", platform, Phi::None, handlers::grant)
        .post("/platform/roles/{grant_id}/revoke", platform, Phi::None, handlers::revoke)
}
