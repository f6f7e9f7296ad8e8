//! Consent to text messages (TCPA), kept apart from the documents that gate the app: a
//! patient (or their proxy) agrees to the clinic's text-message terms for that patient's
//! care, sees when they did, and can withdraw at any time. Automated texts (the
//! safe-contact gate) read this record. Replies to our texts (STOP, START) arrive at the
//! inbound webhook here.

mod handlers;
mod repo;
mod views;

use crate::auth::policy::{Module, Permission};
use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    let own = Access::Portal(Permission::ViewDemographics);
    Routes::new()
        // Provider webhooks prove who they are by signature, not by session.
        .post_raw("/hooks/sms/inbound", Access::Machine, Phi::None, handlers::inbound::receive)
        .module(Module::Messaging)
        .get("/portal/text-messages", own, Phi::Reads, handlers::page)
        .post("/portal/text-messages", own, Phi::Writes, handlers::agree)
        .post("/portal/text-messages/withdraw", own, Phi::Writes, handlers::withdraw)
}
