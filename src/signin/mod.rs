//! Signing in and out: password, passkey (passwordless), the second-factor challenge,
//! enrolment of a first second factor, and password reset.

mod reset;
mod second_factor;
mod sign_in;
mod views;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_sessions::Session;

use crate::auth::passkeys::PasskeyError;
use crate::auth::signin::Step;
use crate::web::client_ip::ClientIp;
use crate::web::rate_limit::RateLimiter;
use crate::web::{Access, AppState, Phi, Routes, SystemTx};

pub fn routes() -> Routes {
    Routes::new()
        .get("/sign-in", Access::Public, Phi::None, sign_in::sign_in_page)
        .post("/sign-in", Access::Public, Phi::None, sign_in::sign_in)
        .post("/sign-in/passkey/start", Access::Public, Phi::None, sign_in::passkey_sign_in_start)
        .post("/sign-in/passkey/finish", Access::Public, Phi::None, sign_in::passkey_sign_in_finish)
        .post("/sign-out", Access::Public, Phi::None, sign_in::sign_out)
        .get("/mfa", Access::FirstFactor, Phi::None, second_factor::challenge_page)
        .post("/mfa/totp", Access::FirstFactor, Phi::None, second_factor::challenge_totp)
        .post("/mfa/recovery", Access::FirstFactor, Phi::None, second_factor::challenge_recovery)
        .post("/mfa/passkey/start", Access::FirstFactor, Phi::None, second_factor::challenge_passkey_start)
        .post("/mfa/passkey/finish", Access::FirstFactor, Phi::None, second_factor::challenge_passkey_finish)
        .get("/mfa/enrol", Access::FirstFactor, Phi::None, second_factor::enrol_page)
        .post("/password/strength", Access::Public, Phi::None, reset::password_strength)
        .get("/password/forgot", Access::Public, Phi::None, reset::forgot_page)
        .post("/password/forgot", Access::Public, Phi::None, reset::forgot)
        .get("/password/reset/{token}", Access::Public, Phi::None, reset::reset_link)
        .get("/password/reset", Access::Public, Phi::None, reset::reset_page)
        .post("/password/reset", Access::Public, Phi::None, reset::reset)
}

/// The one message for every failed sign-in: it must not tell an attacker whether the
/// address has an account, whether the password was right, or whether the account is
/// locked.
const SIGN_IN_FAILED: &str = "That e-mail and password did not work. After several failed attempts an account \
                              is paused for a few minutes; wait, then try again or reset your password.";

/// What the sign-in steps need from this request.
fn step<'a>(state: &'a AppState, session: &'a Session, tx: &SystemTx) -> Step<'a> {
    Step::new(session, &state.config.auth, tx.request().clone(), tx.now())
}

/// 429 with Retry-After when this address has used up its attempts.
fn limited(limiter: &RateLimiter, ip: ClientIp, state: &AppState) -> Option<Response> {
    limiter.refuse(ip, state.clock.now())
}

fn passkey_error(error: &PasskeyError) -> Response {
    let message = match error {
        PasskeyError::NoCeremony => "The passkey request expired. Please try again.",
        PasskeyError::Unavailable => "Passkeys cannot be used at this address.",
        PasskeyError::CounterRegressed => {
            "This passkey looks copied and has been turned off. Use another way to sign in."
        }
        PasskeyError::Database(_) => "Something went wrong. Please try again.",
        PasskeyError::Unknown | PasskeyError::Rejected(_) | PasskeyError::AccountDisabled => {
            "That passkey could not be used here."
        }
    };
    tracing::warn!(error.kind = "passkey", error.detail = %error, "passkey ceremony failed");
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}
