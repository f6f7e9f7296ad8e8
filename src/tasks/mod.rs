//! Work for people that the system could not do itself: today, an automated message the
//! contact gate refused (no safe way to reach the patient), so someone calls instead.
//! Listed for the roles that decide where messages may go; marked done by them.

mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    let work = Access::Staff(Permission::EditContactSafety);
    Routes::new()
        .nav("Tasks", "/tasks", Audience::Staff(Permission::EditContactSafety), 30)
        .get("/tasks", work, Phi::Reads, handlers::list)
        .post("/tasks/{task_id}/done", work, Phi::Writes, handlers::done)
}
