//! The account page: second factors (authenticator app, passkeys, recovery codes),
//! password, e-mail address, and the sessions signed in elsewhere. Every change to these
//! needs a proof of identity no older than five minutes (step-up), ends the person's
//! other sessions where credentials change, is audited, and is reported by e-mail — the
//! change, its consequences, its audit event and its notice in one transaction.

mod credentials;
mod factors;
mod security;
mod step_up;
mod views;

use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use tower_sessions::Session;

use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::notices;
use crate::auth::signin::{self, Step};
use crate::db::ids::UserId;
use crate::web::authenticate::Authenticated;
use crate::web::{Access, AppResult, AppState, Audience, Phi, Routes, SystemTx};

pub fn routes() -> Routes {
    Routes::new()
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
}

fn step<'a>(state: &'a AppState, session: &'a Session, tx: &SystemTx) -> Step<'a> {
    Step::new(session, &state.config.auth, tx.request().clone(), tx.now())
}

/// To the password check, then back to `next`.
fn step_up(next: &str) -> Response {
    let next = url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>();
    Redirect::to(&format!("/account/reauthenticate?next={next}")).into_response()
}

/// Whether the person proved who they are in the last few minutes.
fn fresh(auth: &Authenticated, tx: &SystemTx) -> bool {
    signin::recently_reauthenticated(auth.reauthenticated_at, tx.now())
}

/// Before the second factor is done, only a person with no factor yet may set one up
/// (their first); anyone else must pass the challenge first.
fn may_enrol(auth: &Authenticated) -> bool {
    auth.second_factor_satisfied || !auth.second_factor_enrolled
}

/// After any change of second factor, in the change's transaction: other sessions end,
/// the change is audited, the person is told by e-mail.
async fn factor_changed(
    state: &AppState,
    tx: &mut SystemTx,
    session: &Session,
    user: UserId,
    action: Action,
    method: &'static str,
    notice: &str,
) -> AppResult<()> {
    let ended = signin::end_other_sessions(tx.conn().await?, user, session).await?;
    let mut event = AuditEvent::new(action, Outcome::Success).resource("user", user);
    event.details = json!({ "method": method, "other_sessions_ended": ended });
    tx.audit(&event).await?;
    let now = tx.now();
    notices::tell(tx.conn().await?, &state.notifier, user, notice, now).await
}
