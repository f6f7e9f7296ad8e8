use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::views::{
    PasskeyRow, ReauthenticatePage, RecoveryCodesOffer, RecoveryCodesPage, SecurityPage, SessionRow,
    TotpPage, TotpSetup, VerifyEmailPage,
};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::emails::EmailVerification;
use crate::auth::middleware::Authenticated;
use crate::auth::passkeys::{self, PasskeyError};
use crate::auth::session::{self, safe_return_path};
use crate::auth::signin::{self, audit_platform, recently_reauthenticated};
use crate::auth::tokens::{self, NewToken, Purpose};
use crate::auth::{password, password_policy, recovery, sessions, totp};
use crate::db::ids::UserId;
use crate::db::tenant::{RequestMeta, SystemContext, begin_system};
use crate::signin::{is_workforce, notify};
use crate::web::{AppError, AppResult, AppState, Page, RequestInfo};

fn system(user: UserId, request: &RequestMeta) -> SystemContext {
    SystemContext { user_id: Some(user), request: request.clone() }
}

fn absolute(state: &AppState) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(state.config.auth.absolute).unwrap_or(chrono::TimeDelta::hours(12))
}

fn step_up(next: &str) -> Response {
    let next = url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>();
    Redirect::to(&format!("/account/reauthenticate?next={next}")).into_response()
}

/// Before the second factor is done, only a person with no factor yet may set one up
/// (their first); anyone else must pass the challenge first.
fn may_enrol(auth: &Authenticated) -> bool {
    auth.second_factor_satisfied || !auth.second_factor_enrolled
}

struct Facts {
    email: String,
    has_totp: bool,
    recovery_left: i64,
    passkeys: Vec<passkeys::StoredPasskey>,
    usable_passkeys: i64,
}

async fn facts(state: &AppState, user: UserId) -> AppResult<Facts> {
    let mut tx = begin_system(&state.db, &system(user, &RequestMeta::default())).await?;
    let email =
        sqlx::query_scalar!(r#"SELECT email::text AS "email!" FROM users WHERE id = $1"#, user.as_uuid())
            .fetch_one(&mut *tx)
            .await?;
    let has_totp = totp::load(&mut tx, &state.auth.data_key, user).await?.is_some();
    let recovery_left = recovery::remaining(&mut tx, user).await?;
    let keys = passkeys::list(&mut tx, user).await?;
    let usable_passkeys = passkeys::count_usable(&mut tx, user).await?;
    tx.commit().await?;
    Ok(Facts { email, has_totp, recovery_left, passkeys: keys, usable_passkeys })
}

fn date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

async fn render_security(
    state: &AppState,
    session: &Session,
    user: UserId,
    notice: Option<String>,
    password_error: Option<String>,
    email_error: Option<(String, String)>,
) -> AppResult<SecurityPage> {
    let facts = facts(state, user).await?;
    let workforce = is_workforce(state, user).await?;
    let current = session.id().map(|id| id.to_string());
    let list = sessions::list(&state.db, user).await?;
    let (new_email, email_error) =
        email_error.map_or((String::new(), None), |(value, error)| (value, Some(error)));
    Ok(SecurityPage {
        notice,
        email: facts.email,
        has_totp: facts.has_totp,
        can_remove_totp: !workforce || facts.usable_passkeys > 0,
        recovery_left: facts.recovery_left,
        passkeys: facts
            .passkeys
            .iter()
            .map(|p| PasskeyRow {
                id: p.id.to_string(),
                name: p.name.clone(),
                created: date(p.created_at),
                last_used: p.last_used_at.map(date),
                disabled: p.disabled,
            })
            .collect(),
        sessions: list
            .into_iter()
            .map(|s| SessionRow {
                current: Some(&s.session_id) == current.as_ref(),
                device: s.user_agent.as_deref().map(describe_agent).unwrap_or("Unknown browser").to_owned(),
                since: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                ip: s.ip,
            })
            .collect(),
        min_length: if workforce { password_policy::MIN_LENGTH_STAFF } else { password_policy::MIN_LENGTH },
        password_error,
        new_email,
        email_error,
    })
}

/// A short name for a browser from its user agent.
fn describe_agent(agent: &str) -> &'static str {
    let os = if agent.contains("iPhone") || agent.contains("iPad") {
        "iOS"
    } else if agent.contains("Android") {
        "Android"
    } else if agent.contains("Mac OS X") {
        "macOS"
    } else if agent.contains("Windows") {
        "Windows"
    } else if agent.contains("Linux") {
        "Linux"
    } else {
        ""
    };
    let browser = if agent.contains("Edg/") {
        "Edge"
    } else if agent.contains("Chrome/") || agent.contains("Chromium/") {
        "Chrome"
    } else if agent.contains("Firefox/") {
        "Firefox"
    } else if agent.contains("Safari/") {
        "Safari"
    } else {
        "Browser"
    };
    match (browser, os) {
        ("Chrome", "Linux") => "Chrome on Linux",
        ("Chrome", "macOS") => "Chrome on macOS",
        ("Chrome", "Windows") => "Chrome on Windows",
        ("Chrome", "Android") => "Chrome on Android",
        ("Safari", "iOS") => "Safari on iPhone or iPad",
        ("Safari", "macOS") => "Safari on macOS",
        ("Firefox", "Linux") => "Firefox on Linux",
        ("Firefox", "Windows") => "Firefox on Windows",
        ("Firefox", "macOS") => "Firefox on macOS",
        ("Edge", _) => "Edge",
        ("Browser", _) => "Other browser or app",
        (b, _) => b,
    }
}

pub async fn security_page(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
) -> AppResult<Page<SecurityPage>> {
    Ok(Page(render_security(&state, &session, auth.user_id, None, None, None).await?))
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn reauthenticate_page(Query(query): Query<NextQuery>) -> Page<ReauthenticatePage> {
    let next = query.next.as_deref().and_then(safe_return_path).unwrap_or_else(|| "/account".into());
    Page(ReauthenticatePage { next, error: None })
}

#[derive(Deserialize)]
pub struct ReauthForm {
    password: String,
    next: String,
}

pub async fn reauthenticate(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
    Form(form): Form<ReauthForm>,
) -> AppResult<Response> {
    let next = safe_return_path(&form.next).unwrap_or_else(|| "/account".into());
    let mut tx = begin_system(&state.db, &system(auth.user_id, &request)).await?;
    let hash = sqlx::query_scalar!("SELECT password_hash FROM users WHERE id = $1", auth.user_id.as_uuid())
        .fetch_one(&mut *tx)
        .await?
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    tx.commit().await?;
    if !state.auth.passwords.verify(form.password, hash).await? {
        let mut event = AuditEvent::new(Action::LoginFailed, Outcome::Failure).resource("user", auth.user_id);
        event.details = json!({ "method": "password", "reason": "step_up" });
        audit_platform(&state, Some(auth.user_id), &request, event).await?;
        let page = ReauthenticatePage { next, error: Some("That password did not work.".into()) };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    signin::mark_reauthenticated(&state, &session).await?;
    Ok(Redirect::to(&next).into_response())
}

/// Who may set up an authenticator app now: a person with no factor yet, or one who
/// passed the second factor, and (when replacing a working app) proved who they are in
/// the last few minutes. Anyone else is sent where they can do that.
async fn totp_gate(state: &AppState, auth: &Authenticated) -> AppResult<Result<Facts, Response>> {
    if !may_enrol(auth) {
        return Ok(Err(Redirect::to("/mfa").into_response()));
    }
    let facts = facts(state, auth.user_id).await?;
    if facts.has_totp && !recently_reauthenticated(auth.reauthenticated_at, state.clock.now()) {
        return Ok(Err(step_up("/account/totp")));
    }
    Ok(Ok(facts))
}

/// The authenticator-app set-up page: the pending secret as a QR code if one was made
/// in the last half hour, else a button that makes one. Reading it changes nothing.
pub async fn totp_page(State(state): State<AppState>, auth: Authenticated) -> AppResult<Response> {
    let facts = match totp_gate(&state, &auth).await? {
        Ok(facts) => facts,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let now = state.clock.now();
    let mut tx = begin_system(&state.db, &system(auth.user_id, &RequestMeta::default())).await?;
    let pending = totp::pending_enrolment(&mut tx, &state.auth.data_key, auth.user_id, now, false).await?;
    tx.commit().await?;
    Ok(Page(TotpPage {
        setup: pending.map(|secret| totp_setup(&secret, &facts.email)),
        replacing: facts.has_totp,
        error: None,
    })
    .into_response())
}

fn totp_setup(secret: &[u8], email: &str) -> TotpSetup {
    TotpSetup {
        qr_svg: totp::qr_svg(&totp::provisioning_uri(secret, email, "Lockdev")),
        secret: totp::secret_text(secret),
    }
}

/// Makes a new secret to scan. Replacing a working app is a change of factor (step-up
/// first); the working app keeps working until the new one is confirmed.
pub async fn totp_start(State(state): State<AppState>, auth: Authenticated) -> AppResult<Response> {
    if let Err(elsewhere) = totp_gate(&state, &auth).await? {
        return Ok(elsewhere);
    }
    let now = state.clock.now();
    let secret = totp::new_secret();
    let mut tx = begin_system(&state.db, &system(auth.user_id, &RequestMeta::default())).await?;
    totp::begin_enrolment(&mut tx, &state.auth.data_key, auth.user_id, &secret, now).await?;
    tx.commit().await?;
    Ok(Redirect::to("/account/totp").into_response())
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

pub async fn totp_confirm(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if !may_enrol(&auth) {
        return Ok(Redirect::to("/mfa").into_response());
    }
    let now = state.clock.now();
    let user = auth.user_id;
    let mut tx = begin_system(&state.db, &system(user, &request)).await?;
    let pending = totp::pending_enrolment(&mut tx, &state.auth.data_key, user, now, true).await?;
    let Some(pending) = pending else {
        tx.rollback().await?;
        return Ok(Redirect::to("/account/totp").into_response());
    };
    let confirmed = match totp::matching_step(&pending, &form.code, now) {
        Some(step) => totp::confirm_enrolment(&mut tx, user, step).await?,
        None => false,
    };
    if !confirmed {
        tx.rollback().await?;
        let facts = facts(&state, user).await?;
        let page = TotpPage {
            setup: Some(totp_setup(&pending, &facts.email)),
            replacing: facts.has_totp,
            error: Some("That code did not match. Enter the code the app shows now.".into()),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let first_codes = recovery::remaining(&mut tx, user).await? == 0;
    let codes = if first_codes { Some(recovery::regenerate(&mut tx, user).await?) } else { None };
    tx.commit().await?;
    factor_changed(
        &state,
        &session,
        user,
        &request,
        Action::MfaEnrolled,
        "totp",
        "An authenticator app was set up for your account",
    )
    .await?;
    let next = if auth.second_factor_satisfied {
        "/account".to_owned()
    } else {
        signin::complete_second_factor(&state, &session, "totp_enrolment", &request).await?
    };
    Ok(match codes {
        Some(codes) => Page(RecoveryCodesPage { codes, continue_to: next }).into_response(),
        None => Redirect::to(&next).into_response(),
    })
}

/// After any change of second factor: other sessions end, the change is audited, the
/// person is told by e-mail.
async fn factor_changed(
    state: &AppState,
    session: &Session,
    user: UserId,
    request: &RequestMeta,
    action: Action,
    method: &'static str,
    notice: &str,
) -> AppResult<()> {
    let ended = signin::end_other_sessions(state, user, Some(session)).await?;
    let mut event = AuditEvent::new(action, Outcome::Success).resource("user", user);
    event.details = json!({ "method": method, "other_sessions_ended": ended });
    audit_platform(state, Some(user), request, event).await?;
    notify(state, user, notice).await;
    Ok(())
}

pub async fn totp_remove(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
) -> AppResult<Response> {
    if !recently_reauthenticated(auth.reauthenticated_at, state.clock.now()) {
        return Ok(step_up("/account"));
    }
    let facts = facts(&state, auth.user_id).await?;
    if is_workforce(&state, auth.user_id).await? && facts.usable_passkeys == 0 {
        let page = render_security(
            &state,
            &session,
            auth.user_id,
            Some("Staff accounts must keep a second factor: add a passkey before removing the app.".into()),
            None,
            None,
        )
        .await?;
        return Ok((StatusCode::CONFLICT, Page(page)).into_response());
    }
    let mut tx = begin_system(&state.db, &system(auth.user_id, &request)).await?;
    totp::remove(&mut tx, auth.user_id).await?;
    tx.commit().await?;
    factor_changed(
        &state,
        &session,
        auth.user_id,
        &request,
        Action::MfaRemoved,
        "totp",
        "The authenticator app was removed from your account",
    )
    .await?;
    Ok(Redirect::to("/account").into_response())
}

/// Offered after a first passkey (made in JavaScript, so the codes cannot come back in
/// that response): a button to make the codes, and the way on.
pub async fn recovery_codes_offer(Query(query): Query<NextQuery>) -> Page<RecoveryCodesOffer> {
    let next = query.next.as_deref().and_then(safe_return_path).unwrap_or_else(|| "/account".into());
    Page(RecoveryCodesOffer { next })
}

#[derive(Deserialize)]
pub struct RecoveryForm {
    next: Option<String>,
}

pub async fn recovery_codes(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
    Form(form): Form<RecoveryForm>,
) -> AppResult<Response> {
    if !recently_reauthenticated(auth.reauthenticated_at, state.clock.now()) {
        return Ok(step_up("/account"));
    }
    let mut tx = begin_system(&state.db, &system(auth.user_id, &request)).await?;
    let codes = recovery::regenerate(&mut tx, auth.user_id).await?;
    tx.commit().await?;
    factor_changed(
        &state,
        &session,
        auth.user_id,
        &request,
        Action::RecoveryCodesGenerated,
        "recovery_codes",
        "New recovery codes were made for your account; the old ones no longer work",
    )
    .await?;
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

pub async fn passkey_start(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
) -> AppResult<Response> {
    if !may_enrol(&auth) {
        return Ok((StatusCode::FORBIDDEN, Json(json!({ "error": "Confirm your second factor first." })))
            .into_response());
    }
    let now = state.clock.now();
    if !recently_reauthenticated(auth.reauthenticated_at, now) {
        return Ok((
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "Confirm it is you first: you will be asked for your password." , "redirect": "/account/reauthenticate?next=%2Faccount" })),
        )
            .into_response());
    }
    let mut tx = begin_system(&state.db, &system(auth.user_id, &RequestMeta::default())).await?;
    let (email, name) = {
        let row = sqlx::query!(
            r#"SELECT email::text AS "email!", display_name FROM users WHERE id = $1"#,
            auth.user_id.as_uuid()
        )
        .fetch_one(&mut *tx)
        .await?;
        (row.email, row.display_name)
    };
    let result = state.auth.passkeys.start_registration(&mut tx, auth.user_id, &email, &name).await;
    tx.commit().await?;
    match result {
        Ok((ceremony, options)) => {
            let mut data = session::load(&session).await?;
            data.ceremony = Some(ceremony);
            session::store(&session, &data, session::expiry_for(&data, now, absolute(&state))).await?;
            Ok(Json(options).into_response())
        }
        Err(error) => Ok(passkey_error(&error)),
    }
}

#[derive(Deserialize)]
pub struct PasskeyFinish {
    name: String,
    credential: RegisterPublicKeyCredential,
}

pub async fn passkey_finish(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
    Json(body): Json<PasskeyFinish>,
) -> AppResult<Response> {
    if !may_enrol(&auth) {
        return Ok((StatusCode::FORBIDDEN, Json(json!({ "error": "Confirm your second factor first." })))
            .into_response());
    }
    let now = state.clock.now();
    let mut data = session::load(&session).await?;
    let Some(ceremony) = data.ceremony.take() else { return Ok(passkey_error(&PasskeyError::NoCeremony)) };
    session::store(&session, &data, session::expiry_for(&data, now, absolute(&state))).await?;
    let name = body.name.trim().chars().take(60).collect::<String>();
    let name = if name.is_empty() { "Passkey".to_owned() } else { name };
    let mut tx = begin_system(&state.db, &system(auth.user_id, &request)).await?;
    let result = state
        .auth
        .passkeys
        .finish_registration(&mut tx, auth.user_id, ceremony, &name, &body.credential)
        .await;
    let needs_codes = result.is_ok() && recovery::remaining(&mut tx, auth.user_id).await? == 0;
    tx.commit().await?;
    if let Err(error) = result {
        return Ok(passkey_error(&error));
    }
    factor_changed(
        &state,
        &session,
        auth.user_id,
        &request,
        Action::MfaEnrolled,
        "passkey",
        "A passkey was added to your account",
    )
    .await?;
    let next = if auth.second_factor_satisfied {
        "/account".to_owned()
    } else {
        signin::complete_second_factor(&state, &session, "passkey_enrolment", &request).await?
    };
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

pub async fn passkey_remove(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
    Path(passkey_id): Path<String>,
) -> AppResult<Response> {
    if !recently_reauthenticated(auth.reauthenticated_at, state.clock.now()) {
        return Ok(step_up("/account"));
    }
    let id: uuid::Uuid = passkey_id
        .parse::<ulid::Ulid>()
        .map(uuid::Uuid::from)
        .or_else(|_| passkey_id.parse())
        .map_err(|_| AppError::NotFound)?;
    let facts = facts(&state, auth.user_id).await?;
    let other_factors = i64::from(facts.has_totp) + facts.usable_passkeys - 1;
    if is_workforce(&state, auth.user_id).await? && other_factors < 1 {
        let page = render_security(
            &state,
            &session,
            auth.user_id,
            Some("Staff accounts must keep a second factor: set up another before removing this one.".into()),
            None,
            None,
        )
        .await?;
        return Ok((StatusCode::CONFLICT, Page(page)).into_response());
    }
    let mut tx = begin_system(&state.db, &system(auth.user_id, &request)).await?;
    let removed = passkeys::remove(&mut tx, auth.user_id, id).await?;
    tx.commit().await?;
    if !removed {
        return Err(AppError::NotFound);
    }
    factor_changed(
        &state,
        &session,
        auth.user_id,
        &request,
        Action::MfaRemoved,
        "passkey",
        "A passkey was removed from your account",
    )
    .await?;
    Ok(Redirect::to("/account").into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    if !recently_reauthenticated(auth.reauthenticated_at, state.clock.now()) {
        return Ok(step_up("/account"));
    }
    let workforce = is_workforce(&state, auth.user_id).await?;
    let email = facts(&state, auth.user_id).await?.email;
    if let Err(refusal) = password_policy::check(&form.password, workforce, &[&email]) {
        let page =
            render_security(&state, &session, auth.user_id, None, Some(refusal.to_string()), None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let hash = state.auth.passwords.hash(form.password).await?;
    let mut tx = begin_system(&state.db, &system(auth.user_id, &request)).await?;
    sqlx::query!("UPDATE users SET password_hash = $2 WHERE id = $1", auth.user_id.as_uuid(), hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let ended = signin::end_other_sessions(&state, auth.user_id, Some(&session)).await?;
    let mut event = AuditEvent::new(Action::PasswordChanged, Outcome::Success).resource("user", auth.user_id);
    event.details = json!({ "other_sessions_ended": ended });
    audit_platform(&state, Some(auth.user_id), &request, event).await?;
    notify(&state, auth.user_id, "The password of your account was changed").await;
    let page = render_security(
        &state,
        &session,
        auth.user_id,
        Some("Your password was changed. Other sessions were signed out.".into()),
        None,
        None,
    )
    .await?;
    Ok(Page(page).into_response())
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
}

pub async fn change_email(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
    Form(form): Form<EmailForm>,
) -> AppResult<Response> {
    let now = state.clock.now();
    if !recently_reauthenticated(auth.reauthenticated_at, now) {
        return Ok(step_up("/account"));
    }
    let email = form.email.trim().to_owned();
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !email.contains(char::is_whitespace));
    if !valid {
        let page = render_security(
            &state,
            &session,
            auth.user_id,
            None,
            None,
            Some((email, "Enter an e-mail address such as name@example.com.".into())),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let mut tx = begin_system(&state.db, &system(auth.user_id, &request)).await?;
    let taken = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users WHERE email = $1) AS "t!""#, email)
        .fetch_one(&mut *tx)
        .await?;
    // An address already in use gets no link, but the answer is the same (no oracle).
    if !taken {
        tokens::revoke_for_user(&mut tx, Purpose::EmailVerification, auth.user_id).await?;
        let token = tokens::issue(
            &mut tx,
            NewToken {
                purpose: Purpose::EmailVerification,
                email: &email,
                user_id: Some(auth.user_id),
                organization_id: None,
                payload: json!({}),
                created_by: Some(auth.user_id),
            },
            now,
        )
        .await?;
        let link = format!("{}account/email/verify/{token}", state.config.http.public_url);
        let message = EmailVerification { link }.render(&email)?;
        crate::notify::jobs::queue_account_email(&mut tx, &state.notifier, &message, now).await?;
    }
    tx.commit().await?;
    let page = render_security(
        &state,
        &session,
        auth.user_id,
        Some(format!("We sent a link to {email}. Open it to finish the change.")),
        None,
        None,
    )
    .await?;
    Ok(Page(page).into_response())
}

pub async fn verify_email_link(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let mut data = session::load(&session).await?;
    data.pending_token = Some((Purpose::EmailVerification.as_str().to_owned(), token));
    session::store(&session, &data, session::expiry_for(&data, now, absolute(&state))).await?;
    Ok(Redirect::to("/account/email/verify").into_response())
}

async fn pending_verification(
    state: &AppState,
    session: &Session,
    user: UserId,
) -> AppResult<Option<(String, tokens::Token)>> {
    let data = session::load(session).await?;
    let Some((purpose, text)) = data.pending_token else { return Ok(None) };
    if purpose != Purpose::EmailVerification.as_str() {
        return Ok(None);
    }
    let mut tx = begin_system(&state.db, &system(user, &RequestMeta::default())).await?;
    let token = tokens::peek(&mut tx, Purpose::EmailVerification, &text, state.clock.now()).await?;
    tx.commit().await?;
    // Bound to the person who asked for it.
    Ok(token.filter(|t| t.user_id == Some(user)).map(|t| (text, t)))
}

pub async fn verify_email_page(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
) -> AppResult<Page<VerifyEmailPage>> {
    let pending = pending_verification(&state, &session, auth.user_id).await?;
    Ok(Page(VerifyEmailPage { new_email: pending.map(|(_, t)| t.email) }))
}

pub async fn confirm_email(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
) -> AppResult<Response> {
    let now = state.clock.now();
    let Some((text, token)) = pending_verification(&state, &session, auth.user_id).await? else {
        return Ok(Page(VerifyEmailPage { new_email: None }).into_response());
    };
    let mut tx = begin_system(&state.db, &system(auth.user_id, &request)).await?;
    if tokens::redeem(&mut tx, Purpose::EmailVerification, &text, now).await?.is_none() {
        return Ok(Page(VerifyEmailPage { new_email: None }).into_response());
    }
    let old = sqlx::query_scalar!(
        r#"SELECT email::text AS "email!" FROM users WHERE id = $1"#,
        auth.user_id.as_uuid()
    )
    .fetch_one(&mut *tx)
    .await?;
    let changed = sqlx::query!(
        "UPDATE users SET email = $2, email_verified_at = $3 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE email = $2)",
        auth.user_id.as_uuid(),
        token.email,
        now
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    if changed == 0 {
        return Err(AppError::BadRequest("That address is no longer available.".into()));
    }
    let mut data = session::load(&session).await?;
    data.pending_token = None;
    session::store(&session, &data, session::expiry_for(&data, now, absolute(&state))).await?;
    audit_platform(
        &state,
        Some(auth.user_id),
        &request,
        AuditEvent::new(Action::EmailChanged, Outcome::Success).resource("user", auth.user_id),
    )
    .await?;
    // The old address hears about it too.
    let when = now.format("%Y-%m-%d %H:%M UTC").to_string();
    if let Ok(message) = (crate::auth::emails::SecurityNotice {
        what: "The sign-in e-mail address of your account was changed".into(),
        when,
    })
    .render(&old)
    {
        queue_platform_email(&state, &message).await;
    }
    Ok(Redirect::to("/account").into_response())
}

pub async fn end_other_sessions(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
) -> AppResult<Response> {
    let ended = signin::end_other_sessions(&state, auth.user_id, Some(&session)).await?;
    let mut event = AuditEvent::new(Action::SessionsEnded, Outcome::Success).resource("user", auth.user_id);
    event.details = json!({ "ended": ended });
    audit_platform(&state, Some(auth.user_id), &request, event).await?;
    let page = render_security(
        &state,
        &session,
        auth.user_id,
        Some(format!("Signed out of {ended} other session(s).")),
        None,
        None,
    )
    .await?;
    Ok(Page(page).into_response())
}

/// Queues an account e-mail in a transaction of its own (after the change it reports
/// has committed); a failure is logged, the change stands.
async fn queue_platform_email(state: &AppState, message: &crate::integrations::mail::Email) {
    let queued = async {
        let mut tx = begin_system(&state.db, &SystemContext::default()).await?;
        crate::notify::jobs::queue_account_email(&mut tx, &state.notifier, message, state.clock.now())
            .await?;
        tx.commit().await
    }
    .await;
    if queued.is_err() {
        tracing::warn!(error.kind = "mail", "security notice not queued");
    }
}
