//! The sign-in handlers, by step, and what they share: the one failure message, the
//! step context, the rate limit and passkey errors.

pub(super) mod reset;
pub(super) mod second_factor;
pub(super) mod sign_in;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_sessions::Session;

use crate::auth::passkeys::PasskeyError;
use crate::auth::signin::Step;
use crate::web::client_ip::ClientIp;
use crate::web::rate_limit::RateLimiter;
use crate::web::{AppState, SystemTx};

/// The one message for every failed sign-in: it must not tell an attacker whether the
/// address has an account, whether the password was right, or whether the account is
/// locked.
const SIGN_IN_FAILED: &str = "That e-mail and password did not work. After several failed attempts an account \
                              is paused for a few minutes; wait, then try again or reset your password.";

/// What the sign-in steps need from this request.
fn step<'a>(state: &'a AppState, session: &'a Session, tx: &SystemTx) -> Step<'a> {
    state.sign_in_step(session, tx.request().clone(), tx.now())
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
