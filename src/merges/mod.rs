//! Merging a duplicate chart into the chart that stays: the front desk (who keep the
//! registry) names the duplicate by its MRN, sees both side by side with what each holds,
//! and confirms with a reason. Every row pointing at the duplicate moves to the survivor
//! in one transaction (where the survivor already has the same — a provider on both care
//! teams, one number on both charts — the duplicate's copy is ended first and moves as
//! history); the duplicate stays as a tombstone pointing to the survivor; the merge is
//! recorded, audited for both patients, and never undone in place.

mod domain;
mod handlers;
mod repo;
mod views;

pub use repo::{DERIVED_TABLES, KEPT_TABLES, MOVED_TABLES};

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    let merge = Access::Staff(Permission::RemovePatient);
    Routes::new().get("/patients/{patient_id}/merge", merge, Phi::Reads, handlers::form).post(
        "/patients/{patient_id}/merge",
        merge,
        Phi::Writes,
        handlers::merge,
    )
}
