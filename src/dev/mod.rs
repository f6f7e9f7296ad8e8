//! Development pages: what the development channels kept instead of sending it, so a
//! developer (and the browser tests) can read the mail and open its links, and see the
//! texts and calls the contact gate let through. Mounted only in development (the
//! composition root), and each page answers 404 unless its channel is the development one.

mod handlers;
mod repo;
mod views;

use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new().get("/dev/mailbox", Access::Public, Phi::None, handlers::mailbox).get(
        "/dev/outbox",
        Access::Public,
        Phi::None,
        handlers::outbox,
    )
}
