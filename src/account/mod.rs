//! The account page: second factors (authenticator app, passkeys, recovery codes),
//! password, e-mail address, and the sessions signed in elsewhere. Every change to these
//! needs a proof of identity no older than five minutes (step-up), ends the person's
//! other sessions where credentials change, is audited, and is reported by e-mail.

mod handlers;
mod views;

use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new()
        .get("/account", Access::SignedIn, Phi::None, handlers::security_page)
        .get("/account/reauthenticate", Access::SignedIn, Phi::None, handlers::reauthenticate_page)
        .post("/account/reauthenticate", Access::SignedIn, Phi::None, handlers::reauthenticate)
        // Reachable before the second factor: a first factor is set up here at first sign-in.
        .get("/account/totp", Access::FirstFactor, Phi::None, handlers::totp_page)
        .post("/account/totp/start", Access::FirstFactor, Phi::None, handlers::totp_start)
        .post("/account/totp", Access::FirstFactor, Phi::None, handlers::totp_confirm)
        .post("/account/totp/remove", Access::SignedIn, Phi::None, handlers::totp_remove)
        .get("/account/recovery-codes", Access::SignedIn, Phi::None, handlers::recovery_codes_offer)
        .post("/account/recovery-codes", Access::SignedIn, Phi::None, handlers::recovery_codes)
        .post("/account/passkeys/start", Access::FirstFactor, Phi::None, handlers::passkey_start)
        .post("/account/passkeys/finish", Access::FirstFactor, Phi::None, handlers::passkey_finish)
        .post("/account/passkeys/{passkey_id}/remove", Access::SignedIn, Phi::None, handlers::passkey_remove)
        .post("/account/password", Access::SignedIn, Phi::None, handlers::change_password)
        .post("/account/email", Access::SignedIn, Phi::None, handlers::change_email)
        .get("/account/email/verify/{token}", Access::Public, Phi::None, handlers::verify_email_link)
        .get("/account/email/verify", Access::SignedIn, Phi::None, handlers::verify_email_page)
        .post("/account/email/confirm", Access::SignedIn, Phi::None, handlers::confirm_email)
        .post("/account/sessions/end-others", Access::SignedIn, Phi::None, handlers::end_other_sessions)
}
