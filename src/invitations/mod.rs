//! Accepting an invitation: staff to a clinic, a patient to the portal, a proxy to a
//! dependent's care. The link's token moves into the session, the invitation is shown,
//! and accepting creates the account (if the person has none yet) and activates what
//! the invitation grants — all at once, with the token spent in the same step.

mod handlers;
mod repo;
mod views;

use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new()
        .get("/invite/{token}", Access::Public, Phi::None, handlers::link)
        .get("/invite", Access::Public, Phi::None, handlers::page)
        .post("/invite/accept", Access::Public, Phi::None, handlers::accept)
}
