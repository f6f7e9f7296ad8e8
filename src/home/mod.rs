//! The start page, and each persona's home: `/home` sends a signed-in person to theirs.

mod handlers;
mod repo;
mod views;

use crate::auth::policy::{Module, Permission, PlatformRole};
use crate::auth::signin::FlowPage;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new()
        .flow_page(FlowPage::Home, "/home")
        .nav("Platform", "/home", Audience::Platform, 10)
        .get("/", Access::Public, Phi::None, handlers::index)
        .get("/home", Access::SignedIn, Phi::None, handlers::home)
        .get("/workspace", Access::Staff(Permission::ViewSchedule), Phi::None, handlers::workspace)
        .get("/platform", Access::Platform(PlatformRole::SuperAdmin), Phi::None, handlers::platform)
        .get("/compliance", Access::Platform(PlatformRole::Auditor), Phi::None, handlers::compliance)
        .module(Module::PatientPortal)
        .nav("Portal", "/home", Audience::Portal, 10)
        .get("/portal", Access::Portal(Permission::ViewDemographics), Phi::Reads, handlers::portal)
}
