//! The clinic administrator's settings: the clinic's timezone (working hours and the
//! schedule's default clock), who may read charts (all clinical staff, or each patient's
//! care team only), the idle timeout and whether patients need a second factor, and which
//! parts of the product the clinic uses (its modules). Changes hold from the next request
//! of everyone at the clinic; each is audited with its values before and after.

mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    let manage = Access::Staff(Permission::ManageOrganization);
    Routes::new()
        .nav("Settings", "/settings", Audience::Staff(Permission::ManageOrganization), 60)
        .get("/settings", manage, Phi::None, handlers::page)
        .post("/settings", manage, Phi::None, handlers::save)
        .get("/settings/modules", manage, Phi::None, handlers::modules_page)
        .post("/settings/modules", manage, Phi::None, handlers::save_modules)
}
