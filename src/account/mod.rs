//! The account page: second factors (authenticator app, passkeys, recovery codes),
//! password, e-mail address, and the sessions signed in elsewhere. Every change to these
//! needs a proof of identity no older than five minutes (step-up), ends the person's
//! other sessions where credentials change, is audited, and is reported by e-mail — the
//! change, its consequences, its audit event and its notice in one transaction.

mod handlers;
mod repo;
mod views;

use crate::auth::signin::FlowPage;
use crate::web::{Access, Audience, Phi, Routes};

use handlers::{credentials, factors, security, step_up};

pub fn routes() -> Routes {
    Routes::new()
        .flow_page(FlowPage::Reauthenticate, "/account/reauthenticate")
        .nav("Account", "/account", Audience::SignedIn, 95)
        .get("/account", Access::SignedIn, Phi::None, security::page)
        .get("/account/reauthenticate", Access::SignedIn, Phi::None, step_up::page)
        .post("/account/reauthenticate", Access::SignedIn, Phi::None, step_up::reauthenticate)
        // Reachable before the second factor: a first factor is set up here at first sign-in.
        .get("/account/totp", Access::FirstFactor, Phi::None, factors::totp_page)
        .post("/account/totp/start", Access::FirstFactor, Phi::None, factors::totp_start)
        .post("/account/totp", Access::FirstFactor, Phi::None, factors::totp_confirm)
        .post("/account/totp/remove", Access::SignedIn, Phi::None, factors::totp_remove)
        .get("/account/recovery-codes", Access::SignedIn, Phi::None, factors::recovery_codes_offer)
        .post("/account/recovery-codes", Access::SignedIn, Phi::None, factors::recovery_codes)
        .post("/account/passkeys/start", Access::FirstFactor, Phi::None, factors::passkey_start)
        .post("/account/passkeys/finish", Access::FirstFactor, Phi::None, factors::passkey_finish)
        .post("/account/passkeys/{passkey_id}/remove", Access::SignedIn, Phi::None, factors::passkey_remove)
        .post("/account/password", Access::SignedIn, Phi::None, credentials::change_password)
        .post("/account/email", Access::SignedIn, Phi::None, credentials::change_email)
        .get("/account/email/verify/{token}", Access::Public, Phi::None, credentials::verify_email_link)
        .get("/account/email/verify", Access::SignedIn, Phi::None, credentials::verify_email_page)
        .post("/account/email/confirm", Access::SignedIn, Phi::None, credentials::confirm_email)
        .post("/account/sessions/end-others", Access::SignedIn, Phi::None, security::end_other_sessions)
        .post("/account/sessions/end", Access::SignedIn, Phi::None, security::end_one_session)
        .post("/account/timezone", Access::SignedIn, Phi::None, security::set_timezone)
}
