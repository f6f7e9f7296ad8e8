//! The platform console's clinics (super admin): every clinic with its status and usage
//! (members, patients, last activity: counts, never patient data), a new clinic with its
//! first administrator (an invitation, as a clinic invites its members), and suspension:
//! sign-ins into a suspended clinic are refused with a clear page, its open sessions end
//! at their next request, its jobs wait, and its data stays until it is restored.

mod handlers;
mod repo;
mod views;

use crate::auth::policy::PlatformRole;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    let platform = Access::Platform(PlatformRole::SuperAdmin);
    Routes::new()
        .nav("Clinics", "/platform/clinics", Audience::PlatformRole(PlatformRole::SuperAdmin), 20)
        .get("/platform/clinics", platform, Phi::None, handlers::page)
        .post("/platform/clinics", platform, Phi::None, handlers::create)
        .post("/platform/clinics/{organization_id}/suspend", platform, Phi::None, handlers::suspend)
        .post("/platform/clinics/{organization_id}/restore", platform, Phi::None, handlers::restore)
}
