//! Second factors: the authenticator app, recovery codes and passkeys — set up, replaced
//! and removed.

use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::super::repo;
use super::super::views::{RecoveryCodesOffer, RecoveryCodesPage, TotpPage, TotpSetup};
use super::security::{Said, facts, render};
use super::step_up::NextQuery;
use super::{factor_changed, may_enrol, step};
use crate::audit::Action;
use crate::auth::passkeys::{self, PasskeyError};
use crate::auth::session::{self, safe_return_path};
use crate::auth::signin::FlowPage;
use crate::auth::{recovery, signin, totp};
use crate::web::authenticate::Authenticated;
use crate::web::{AppError, AppResult, AppState, Page, StepUp, SystemTx};

/// Who may set up an authenticator app now: a person with no factor yet, or one who
/// passed the second factor, and (when replacing a working app) proved who they are in
/// the last few minutes. Anyone else is sent where they can do that.
async fn totp_gate(
    state: &AppState,
    tx: &mut SystemTx,
    auth: &Authenticated,
    step_up: &StepUp,
) -> AppResult<Result<super::security::Facts, Response>> {
    if !may_enrol(auth) {
        return Ok(Err(Redirect::to(state.pages.path(FlowPage::SecondFactor)).into_response()));
    }
    let facts = facts(state, tx, auth.user_id).await?;
    if facts.has_totp
        && let Some(refusal) = step_up.refusal_returning_to("/account/totp")
    {
        return Ok(Err(refusal));
    }
    Ok(Ok(facts))
}

/// After a factor is set up: the change recorded (other sessions ended, audited, the
/// person told), and where to go — the account page, or on with signing in when this was
/// the person's first factor, set up half-way through sign-in.
async fn enrolled(
    state: &AppState,
    tx: &mut SystemTx,
    session: &Session,
    auth: &Authenticated,
    method: &'static str,
    notice: &str,
) -> AppResult<String> {
    factor_changed(state, tx, session, auth.user_id, Action::MfaEnrolled, method, notice).await?;
    if auth.second_factor_satisfied {
        let done = if method == "totp" { "app-set-up" } else { "passkey-added" };
        return Ok(format!("/account?done={done}"));
    }
    let step = step(state, session, tx);
    let how = if method == "totp" { "totp_enrolment" } else { "passkey_enrolment" };
    let outcome = signin::complete_second_factor(tx.conn().await?, &step, how).await;
    signin::settle(&step, outcome, tx.commit()).await
}

fn totp_setup(secret: &[u8], email: &str) -> TotpSetup {
    TotpSetup {
        qr_svg: totp::qr_svg(&totp::provisioning_uri(secret, email, "Lockdev")),
        secret: totp::secret_text(secret),
    }
}

/// The authenticator-app set-up page: the pending secret as a QR code if one was made
/// in the last half hour, else a button that makes one. Reading it changes nothing.
pub(crate) async fn totp_page(
    State(state): State<AppState>,
    auth: Authenticated,
    step_up: StepUp,
    mut tx: SystemTx,
) -> AppResult<Response> {
    let facts = match totp_gate(&state, &mut tx, &auth, &step_up).await? {
        Ok(facts) => facts,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let now = tx.now();
    let pending =
        totp::pending_enrolment(tx.conn().await?, &state.auth.data_key, auth.user_id, now, false).await?;
    tx.commit().await?;
    Ok(Page(TotpPage {
        setup: pending.map(|secret| totp_setup(&secret, &facts.email)),
        replacing: facts.has_totp,
        error: None,
    })
    .into_response())
}

/// Makes a new secret to scan. Replacing a working app is a change of factor (step-up
/// first); the working app keeps working until the new one is confirmed.
pub(crate) async fn totp_start(
    State(state): State<AppState>,
    auth: Authenticated,
    step_up: StepUp,
    mut tx: SystemTx,
) -> AppResult<Response> {
    if let Err(elsewhere) = totp_gate(&state, &mut tx, &auth, &step_up).await? {
        return Ok(elsewhere);
    }
    let now = tx.now();
    let secret = totp::new_secret();
    totp::begin_enrolment(tx.conn().await?, &state.auth.data_key, auth.user_id, &secret, now).await?;
    tx.commit().await?;
    Ok(Redirect::to("/account/totp").into_response())
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    code: String,
}

pub(crate) async fn totp_confirm(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if !may_enrol(&auth) {
        return Ok(Redirect::to(state.pages.path(FlowPage::SecondFactor)).into_response());
    }
    let now = tx.now();
    let user = auth.user_id;
    let pending = totp::pending_enrolment(tx.conn().await?, &state.auth.data_key, user, now, true).await?;
    let Some(pending) = pending else {
        return Ok(Redirect::to("/account/totp").into_response());
    };
    let confirmed = match totp::matching_step(&pending, &form.code, now) {
        Some(matched) => totp::confirm_enrolment(tx.conn().await?, user, matched).await?,
        None => false,
    };
    if !confirmed {
        let facts = facts(&state, &mut tx, user).await?;
        // Nothing changed: the pending secret stays as it was.
        drop(tx);
        let page = TotpPage {
            setup: Some(totp_setup(&pending, &facts.email)),
            replacing: facts.has_totp,
            error: Some("That code did not match. Enter the code the app shows now.".into()),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let first_codes = recovery::remaining(tx.conn().await?, user).await? == 0;
    let codes = if first_codes { Some(recovery::regenerate(tx.conn().await?, user).await?) } else { None };
    let next = enrolled(
        &state,
        &mut tx,
        &session,
        &auth,
        "totp",
        "An authenticator app was set up for your account",
    )
    .await?;
    tx.commit().await?;
    Ok(match codes {
        Some(codes) => Page(RecoveryCodesPage { codes, continue_to: next }).into_response(),
        None => Redirect::to(&next).into_response(),
    })
}

pub(crate) async fn totp_remove(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    step_up: StepUp,
    mut tx: SystemTx,
) -> AppResult<Response> {
    if let Some(refusal) = step_up.refusal_returning_to("/account") {
        return Ok(refusal);
    }
    let facts = facts(&state, &mut tx, auth.user_id).await?;
    if facts.workforce && facts.usable_passkeys == 0 {
        let notice = "Staff accounts must keep a second factor: add a passkey before removing the app.";
        let said = Said { notice: Some(notice.into()), ..Default::default() };
        let page = render(&state, &mut tx, &session, auth.user_id, said).await?;
        return Ok((StatusCode::CONFLICT, Page(page)).into_response());
    }
    totp::remove(tx.conn().await?, auth.user_id).await?;
    factor_changed(
        &state,
        &mut tx,
        &session,
        auth.user_id,
        Action::MfaRemoved,
        "totp",
        "The authenticator app was removed from your account",
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/account?done=app-removed").into_response())
}

/// Offered after a first passkey (made in JavaScript, so the codes cannot come back in
/// that response): a button to make the codes, and the way on.
pub(crate) async fn recovery_codes_offer(Query(query): Query<NextQuery>) -> Page<RecoveryCodesOffer> {
    let next = query.next.as_deref().and_then(safe_return_path).unwrap_or_else(|| "/account".into());
    Page(RecoveryCodesOffer { next })
}

#[derive(Deserialize)]
pub(crate) struct RecoveryForm {
    next: Option<String>,
}

pub async fn recovery_codes(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    step_up: StepUp,
    mut tx: SystemTx,
    Form(form): Form<RecoveryForm>,
) -> AppResult<Response> {
    if let Some(refusal) = step_up.refusal_returning_to("/account") {
        return Ok(refusal);
    }
    let codes = recovery::regenerate(tx.conn().await?, auth.user_id).await?;
    factor_changed(
        &state,
        &mut tx,
        &session,
        auth.user_id,
        Action::RecoveryCodesGenerated,
        "recovery_codes",
        "New recovery codes were made for your account; the old ones no longer work",
    )
    .await?;
    tx.commit().await?;
    let continue_to = form.next.as_deref().and_then(safe_return_path).unwrap_or_else(|| "/account".into());
    Ok(Page(RecoveryCodesPage { codes, continue_to }).into_response())
}

fn passkey_error(error: &PasskeyError) -> Response {
    tracing::warn!(error.kind = "passkey", error.detail = %error, "passkey registration failed");
    let message = match error {
        PasskeyError::NoCeremony => "The passkey request expired. Please try again.",
        _ => "The passkey could not be added.",
    };
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

pub(crate) async fn passkey_start(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    step_up: StepUp,
    mut tx: SystemTx,
) -> AppResult<Response> {
    if !may_enrol(&auth) {
        return Ok((StatusCode::FORBIDDEN, Json(json!({ "error": "Confirm your second factor first." })))
            .into_response());
    }
    if let Some(confirm) = step_up.confirm_url("/account") {
        return Ok((
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "Confirm it is you first: you will be asked for your password.", "redirect": confirm })),
        )
            .into_response());
    }
    let identity = repo::identity(tx.conn().await?, auth.user_id).await?;
    let (email, name) = (identity.email, identity.display_name);
    let result = state.auth.passkeys.start_registration(tx.conn().await?, auth.user_id, &email, &name).await;
    tx.commit().await?;
    match result {
        Ok((ceremony, options)) => {
            let mut data = session::load(&session).await?;
            data.ceremony = Some(ceremony);
            step(&state, &session, &tx).store(&data).await?;
            Ok(Json(options).into_response())
        }
        Err(error) => Ok(passkey_error(&error)),
    }
}

#[derive(Deserialize)]
pub(crate) struct PasskeyFinish {
    name: String,
    credential: RegisterPublicKeyCredential,
}

pub(crate) async fn passkey_finish(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
    Json(body): Json<PasskeyFinish>,
) -> AppResult<Response> {
    if !may_enrol(&auth) {
        return Ok((StatusCode::FORBIDDEN, Json(json!({ "error": "Confirm your second factor first." })))
            .into_response());
    }
    let mut data = session::load(&session).await?;
    let Some(ceremony) = data.ceremony.take() else { return Ok(passkey_error(&PasskeyError::NoCeremony)) };
    step(&state, &session, &tx).store(&data).await?;
    let name = body.name.trim().chars().take(60).collect::<String>();
    let name = if name.is_empty() { "Passkey".to_owned() } else { name };
    let result = state
        .auth
        .passkeys
        .finish_registration(tx.conn().await?, auth.user_id, ceremony, &name, &body.credential)
        .await;
    if let Err(error) = result {
        tx.commit().await?;
        return Ok(passkey_error(&error));
    }
    let needs_codes = recovery::remaining(tx.conn().await?, auth.user_id).await? == 0;
    let next =
        enrolled(&state, &mut tx, &session, &auth, "passkey", "A passkey was added to your account").await?;
    tx.commit().await?;
    let redirect = if needs_codes {
        format!(
            "/account/recovery-codes?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        )
    } else {
        next
    };
    Ok(Json(json!({ "redirect": redirect })).into_response())
}

pub(crate) async fn passkey_remove(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    step_up: StepUp,
    mut tx: SystemTx,
    Path(passkey_id): Path<String>,
) -> AppResult<Response> {
    if let Some(refusal) = step_up.refusal_returning_to("/account") {
        return Ok(refusal);
    }
    let id: uuid::Uuid = passkey_id
        .parse::<ulid::Ulid>()
        .map(uuid::Uuid::from)
        .or_else(|_| passkey_id.parse())
        .map_err(|_| AppError::NotFound)?;
    let facts = facts(&state, &mut tx, auth.user_id).await?;
    let other_factors = i64::from(facts.has_totp) + facts.usable_passkeys - 1;
    if facts.workforce && other_factors < 1 {
        let notice = "Staff accounts must keep a second factor: set up another before removing this one.";
        let said = Said { notice: Some(notice.into()), ..Default::default() };
        let page = render(&state, &mut tx, &session, auth.user_id, said).await?;
        return Ok((StatusCode::CONFLICT, Page(page)).into_response());
    }
    if !passkeys::remove(tx.conn().await?, auth.user_id, id).await? {
        return Err(AppError::NotFound);
    }
    factor_changed(
        &state,
        &mut tx,
        &session,
        auth.user_id,
        Action::MfaRemoved,
        "passkey",
        "A passkey was removed from your account",
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/account?done=passkey-removed").into_response())
}
