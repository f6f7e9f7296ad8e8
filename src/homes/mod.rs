//! Homes that say what to do, one page per staff role, each in the route registry:
//! the front desk's day (arrivals to check in, who is waiting, no-shows, open tasks), the
//! provider's day (their visits, their unsigned drafts), the nurse's rooming queue (who
//! checked in, waiting longest first), the call center's entry point, and the clinic
//! administrator's (licences about to run out, providers not bookable yet). `/home` sends
//! each role to theirs.

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new()
        .get("/home/front-desk", Access::Staff(Permission::ManageSchedule), Phi::Reads, handlers::front_desk)
        .get("/home/clinician", Access::Staff(Permission::WriteNote), Phi::Reads, handlers::clinician)
        .get("/home/rooming", Access::Staff(Permission::RecordClinicalSummary), Phi::Reads, handlers::rooming)
        .get("/home/calls", Access::Staff(Permission::ScreenPop), Phi::None, handlers::calls)
        .get("/home/admin", Access::Staff(Permission::ManageMembers), Phi::None, handlers::admin)
}
