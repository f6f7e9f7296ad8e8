//! The second-factor challenge after a password (authenticator code, recovery code,
//! passkey), and the page that asks a person without one to set one up.

use axum::Json;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;
use webauthn_rs::prelude::PublicKeyCredential;

use super::super::views::{ChallengePage, EnrolPage};
use super::sign_in::{remember_ceremony, take_ceremony};
use super::{limited, passkey_error, step};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::passkeys::PasskeyError;
use crate::auth::throttle::{self, Factor};
use crate::auth::{notices, recovery, session, signin, totp};
use crate::db::ids::UserId;
use crate::web::authenticate::Authenticated;
use crate::web::client_ip::ClientIp;
use crate::web::{AppResult, AppState, Page, SystemTx};

/// What second factors a person has, for the challenge page.
async fn factors(state: &AppState, tx: &mut SystemTx, user: UserId) -> AppResult<(bool, bool)> {
    let totp = totp::load(tx.conn().await?, &state.auth.data_key, user).await?.is_some();
    let passkeys = crate::auth::passkeys::count_usable(tx.conn().await?, user).await? > 0;
    Ok((totp, passkeys))
}

pub(crate) async fn challenge_page(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
) -> AppResult<Response> {
    if auth.second_factor_satisfied {
        let step = step(&state, &session, &tx);
        let outcome = signin::next_step(tx.conn().await?, &step).await;
        let next = signin::settle(&step, outcome, tx.commit()).await?;
        return Ok(Redirect::to(&next).into_response());
    }
    let (has_totp, has_passkey) = factors(&state, &mut tx, auth.user_id).await?;
    tx.commit().await?;
    if !has_totp && !has_passkey {
        return Ok(Redirect::to("/mfa/enrol").into_response());
    }
    Ok(Page(ChallengePage { has_totp, has_passkey, error: None }).into_response())
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    code: String,
}

/// Why a second-factor code was refused.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CodeRefused {
    /// Not a valid code.
    Wrong,
    /// A valid code that was already used (a replay; the person is told).
    Replayed,
    /// Not even checked: too many recent failures.
    Locked,
}

impl CodeRefused {
    fn as_str(self) -> &'static str {
        match self {
            Self::Wrong => "wrong_code",
            Self::Replayed => "replayed",
            Self::Locked => "locked",
        }
    }
}

/// A failed second factor: counted, audited (and the person told of a replay), shown —
/// all committed before the 422 goes out.
async fn second_factor_failed(
    state: &AppState,
    mut tx: SystemTx,
    user: UserId,
    method: &'static str,
    refused: CodeRefused,
) -> AppResult<Response> {
    let now = tx.now();
    if refused != CodeRefused::Locked {
        throttle::record_failure(tx.conn().await?, user, Factor::SecondFactor, now).await?;
    }
    if refused == CodeRefused::Replayed {
        // A right code that was already used: someone else may have it.
        let what = "A sign-in code for your account was used twice; the second use was refused";
        notices::tell(tx.conn().await?, &state.notifier, user, what, now).await?;
    }
    let mut event = AuditEvent::new(Action::MfaChallengeFailed, Outcome::Failure).resource("user", user);
    event.details = json!({ "method": method, "reason": refused.as_str() });
    tx.audit(&event).await?;
    let (has_totp, has_passkey) = factors(state, &mut tx, user).await?;
    tx.commit().await?;
    let error = match refused {
        CodeRefused::Locked => "Too many wrong codes. Wait a few minutes, then try again.",
        CodeRefused::Replayed => "That code was already used. Wait for the next code in your app.",
        CodeRefused::Wrong => "That code did not work. Check the time on your phone and try the newest code.",
    };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        Page(ChallengePage { has_totp, has_passkey, error: Some(error.into()) }),
    )
        .into_response())
}

pub(crate) async fn challenge_totp(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    ip: ClientIp,
    mut tx: SystemTx,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.second_factor_limit, ip, &state) {
        return Ok(response);
    }
    let now = tx.now();
    let user = auth.user_id;
    let locked = throttle::locked_until(tx.conn().await?, user, Factor::SecondFactor, now).await?.is_some();
    let credential = totp::load(tx.conn().await?, &state.auth.data_key, user).await?;
    let step_matched = credential.as_ref().and_then(|c| totp::matching_step(&c.secret, &form.code, now));
    let accepted = match step_matched {
        Some(matched) if !locked => totp::spend_step(tx.conn().await?, user, matched).await?,
        _ => false,
    };
    if accepted {
        throttle::record_success(tx.conn().await?, user, Factor::SecondFactor).await?;
        let step = step(&state, &session, &tx);
        let outcome = signin::complete_second_factor(tx.conn().await?, &step, "totp").await;
        let next = signin::settle(&step, outcome, tx.commit()).await?;
        return Ok(Redirect::to(&next).into_response());
    }
    let refused = match (locked, step_matched) {
        (true, _) => CodeRefused::Locked,
        (false, None) => CodeRefused::Wrong,
        (false, Some(_)) => CodeRefused::Replayed,
    };
    second_factor_failed(&state, tx, user, "totp", refused).await
}

pub(crate) async fn challenge_recovery(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    ip: ClientIp,
    mut tx: SystemTx,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.second_factor_limit, ip, &state) {
        return Ok(response);
    }
    let now = tx.now();
    let user = auth.user_id;
    let locked = throttle::locked_until(tx.conn().await?, user, Factor::SecondFactor, now).await?.is_some();
    let spent = !locked && recovery::spend(tx.conn().await?, user, &form.code).await?;
    if !spent {
        let refused = if locked { CodeRefused::Locked } else { CodeRefused::Wrong };
        return second_factor_failed(&state, tx, user, "recovery_code", refused).await;
    }
    throttle::record_success(tx.conn().await?, user, Factor::SecondFactor).await?;
    let remaining = recovery::remaining(tx.conn().await?, user).await?;
    let what = format!("A recovery code was used to sign in; {remaining} codes are left");
    notices::tell(tx.conn().await?, &state.notifier, user, &what, now).await?;
    let step = step(&state, &session, &tx);
    let outcome = signin::complete_second_factor(tx.conn().await?, &step, "recovery_code").await;
    let next = signin::settle(&step, outcome, tx.commit()).await?;
    Ok(Redirect::to(&next).into_response())
}

pub(crate) async fn challenge_passkey_start(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    ip: ClientIp,
    mut tx: SystemTx,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.second_factor_limit, ip, &state) {
        return Ok(response);
    }
    let result = state.auth.passkeys.start_authentication(tx.conn().await?, auth.user_id).await;
    tx.commit().await?;
    match result {
        Ok(Some((ceremony, options))) => {
            remember_ceremony(&state, &session, ceremony).await?;
            Ok(Json(options).into_response())
        }
        Ok(None) => Ok(passkey_error(&PasskeyError::Unknown)),
        Err(error) => Ok(passkey_error(&error)),
    }
}

pub(crate) async fn challenge_passkey_finish(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
    Json(credential): Json<PublicKeyCredential>,
) -> AppResult<Response> {
    let Some(ceremony) = take_ceremony(&state, &session).await? else {
        return Ok(passkey_error(&PasskeyError::NoCeremony));
    };
    let result = state
        .auth
        .passkeys
        .finish_authentication(tx.conn().await?, auth.user_id, ceremony, &credential)
        .await;
    match result {
        Ok(()) => {
            let step = step(&state, &session, &tx);
            let outcome = signin::complete_second_factor(tx.conn().await?, &step, "passkey").await;
            let next = signin::settle(&step, outcome, tx.commit()).await?;
            Ok(Json(json!({ "redirect": next })).into_response())
        }
        Err(error) => {
            let mut event =
                AuditEvent::new(Action::MfaChallengeFailed, Outcome::Failure).resource("user", auth.user_id);
            event.details = json!({ "method": "passkey" });
            tx.audit(&event).await?;
            tx.commit().await?;
            Ok(passkey_error(&error))
        }
    }
}

pub(crate) async fn enrol_page(session: Session, auth: Authenticated) -> AppResult<Response> {
    let data = session::load(&session).await?;
    let required = data.user.as_ref().is_some_and(|u| u.second_factor_required);
    if auth.second_factor_satisfied && auth.second_factor_enrolled {
        return Ok(Redirect::to("/account").into_response());
    }
    Ok(Page(EnrolPage { required }).into_response())
}
