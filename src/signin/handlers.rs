use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;
use webauthn_rs::prelude::PublicKeyCredential;

use super::views::{ChallengePage, EnrolPage, ForgotPage, ResetPage, SignInPage, StrengthHint};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::emails::{PasswordReset, SecurityNotice};
use crate::auth::middleware::{Authenticated, SessionExpired};
use crate::auth::passkeys::PasskeyError;
use crate::auth::password_policy;
use crate::auth::session::{self, SessionData};
use crate::auth::signin::{self, FirstFactor, audit_platform};
use crate::auth::throttle::{self, Factor};
use crate::auth::tokens::{self, NewToken, Purpose};
use crate::auth::{password, recovery, sessions, totp};
use crate::db::ids::UserId;
use crate::db::tenant::{SystemContext, begin_system};
use crate::web::client_ip::ClientIp;
use crate::web::error::error_response;
use crate::web::rate_limit::RateLimiter;
use crate::web::{AppError, AppResult, AppState, Page, RequestInfo};

/// The one message for every failed sign-in: it must not tell an attacker whether the
/// address has an account, whether the password was right, or whether the account is
/// locked.
const SIGN_IN_FAILED: &str = "That e-mail and password did not work. After several failed attempts an account \
                              is paused for a few minutes; wait, then try again or reset your password.";

fn absolute(state: &AppState) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(state.config.auth.absolute).unwrap_or(chrono::TimeDelta::hours(12))
}

/// 429 with Retry-After when this address has used up its attempts.
fn limited(limiter: &RateLimiter, ip: ClientIp, state: &AppState) -> Option<Response> {
    limiter.check(ip.0, state.clock.now()).err().map(|retry_after| {
        let mut response = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many attempts from your network. Please wait {retry_after} seconds and try again."),
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        response
    })
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    /// Set after a password reset, to say so.
    changed: Option<String>,
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<SignInQuery>,
    expired: Option<axum::Extension<SessionExpired>>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let mut data = session::load(&session).await?;
    if data.user.as_ref().is_some_and(|u| u.second_factor_satisfied()) {
        return Ok(Redirect::to("/home").into_response());
    }
    if let Some(next) = query.next.as_deref().and_then(session::safe_return_path) {
        data.return_to = Some(next);
    }
    if data.csrf.is_empty() {
        data.csrf = session::new_csrf_token();
    }
    session::store(&session, &data, session::expiry_for(&data, now, absolute(&state))).await?;
    let notice = (query.changed.as_deref() == Some("password"))
        .then(|| "Your password was changed. Sign in with it now.".to_owned());
    Ok(Page(SignInPage { email: String::new(), error: None, notice, expired: expired.is_some() })
        .into_response())
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
}

/// The account an e-mail address belongs to, if any.
struct Account {
    id: UserId,
    password_hash: Option<String>,
    disabled: bool,
}

async fn find_account(state: &AppState, email: &str) -> AppResult<Option<Account>> {
    let mut tx = begin_system(&state.db, &SystemContext::default()).await?;
    let row = sqlx::query!(
        r#"SELECT id AS "id: UserId", password_hash, (disabled_at IS NOT NULL OR deleted_at IS NOT NULL) AS "disabled!"
             FROM users WHERE email = $1"#,
        email
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| Account { id: r.id, password_hash: r.password_hash, disabled: r.disabled }))
}

fn system_for(user: UserId, request: &crate::db::tenant::RequestMeta) -> SystemContext {
    SystemContext { user_id: Some(user), request: request.clone() }
}

pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    ip: ClientIp,
    RequestInfo(request): RequestInfo,
    Form(form): Form<SignInForm>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.sign_in_limit, ip, &state) {
        return Ok(response);
    }
    let now = state.clock.now();
    let email = form.email.trim().to_owned();
    let account = find_account(&state, &email).await?;

    // A locked account is not even checked, but the work (and time) of a check is done
    // all the same: against a dummy hash, like an unknown address. An unknown address
    // also looks for a lock (of nobody), so both paths make the same round trips.
    let probe = account.as_ref().map_or(UserId::from_uuid(uuid::Uuid::nil()), |a| a.id);
    let mut tx = begin_system(&state.db, &system_for(probe, &request)).await?;
    let locked = throttle::locked_until(&mut tx, probe, Factor::Password, now).await?.is_some();
    tx.commit().await?;
    let hash = account
        .as_ref()
        .filter(|a| !locked && !a.disabled)
        .and_then(|a| a.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    let verified = state.auth.passwords.verify(form.password.clone(), hash.clone()).await?;

    let succeeded =
        account.as_ref().is_some_and(|a| verified && !locked && !a.disabled && a.password_hash.is_some());
    let (Some(account), true) = (account.as_ref(), succeeded) else {
        // One transaction either way: the failure counted (real accounts only, and only
        // outside a lock, so an attacker cannot stretch a lock forever) and audited.
        let failed_user = account.as_ref().map(|a| a.id);
        let mut event = AuditEvent::new(Action::LoginFailed, Outcome::Failure);
        if let Some(user) = failed_user {
            event = event.resource("user", user);
        }
        event.details =
            json!({ "method": "password", "reason": if locked { "locked" } else { "credentials" } });
        let context = SystemContext { user_id: failed_user, request: request.clone() };
        let mut tx = begin_system(&state.db, &context).await?;
        if let (Some(user), false) = (failed_user, locked) {
            throttle::record_failure(&mut tx, user, Factor::Password, now).await?;
        }
        crate::audit::record_platform(&mut tx, &context, &event).await?;
        tx.commit().await?;
        let page = SignInPage { email, error: Some(SIGN_IN_FAILED.into()), notice: None, expired: false };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    };

    let mut tx = begin_system(&state.db, &system_for(account.id, &request)).await?;
    throttle::record_success(&mut tx, account.id, Factor::Password).await?;
    tx.commit().await?;
    // Hashes made with older, weaker parameters are replaced now that the password is known.
    if password::needs_rehash(&hash) {
        let upgraded = state.auth.passwords.hash(form.password).await?;
        let mut tx = begin_system(&state.db, &system_for(account.id, &request)).await?;
        sqlx::query!("UPDATE users SET password_hash = $2 WHERE id = $1", account.id.as_uuid(), upgraded)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let next = signin::start(&state, &session, account.id, FirstFactor::Password, &request).await?;
    Ok(Redirect::to(&next).into_response())
}

fn passkey_error(error: &PasskeyError) -> Response {
    let message = match error {
        PasskeyError::NoCeremony => "The passkey request expired. Please try again.",
        PasskeyError::Unavailable => "Passkeys cannot be used at this address.",
        PasskeyError::CounterRegressed => {
            "This passkey looks copied and has been turned off. Use another way to sign in."
        }
        PasskeyError::Database(_) => "Something went wrong. Please try again.",
        PasskeyError::Unknown | PasskeyError::Rejected(_) => "That passkey could not be used here.",
    };
    tracing::warn!(error.kind = "passkey", error.detail = %error, "passkey ceremony failed");
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn remember_ceremony(state: &AppState, session: &Session, ceremony: uuid::Uuid) -> AppResult<()> {
    let now = state.clock.now();
    let mut data = session::load(session).await?;
    if data.csrf.is_empty() {
        data.csrf = session::new_csrf_token();
    }
    data.ceremony = Some(ceremony);
    session::store(session, &data, session::expiry_for(&data, now, absolute(state))).await
}

async fn take_ceremony(state: &AppState, session: &Session) -> AppResult<Option<uuid::Uuid>> {
    let now = state.clock.now();
    let mut data = session::load(session).await?;
    let ceremony = data.ceremony.take();
    session::store(session, &data, session::expiry_for(&data, now, absolute(state))).await?;
    Ok(ceremony)
}

pub async fn passkey_sign_in_start(
    State(state): State<AppState>,
    session: Session,
    ip: ClientIp,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.sign_in_limit, ip, &state) {
        return Ok(response);
    }
    let mut tx = begin_system(&state.db, &SystemContext::default()).await?;
    let result = state.auth.passkeys.start_discovery(&mut tx).await;
    tx.commit().await?;
    match result {
        Ok((ceremony, options)) => {
            remember_ceremony(&state, &session, ceremony).await?;
            Ok(Json(options).into_response())
        }
        Err(error) => Ok(passkey_error(&error)),
    }
}

pub async fn passkey_sign_in_finish(
    State(state): State<AppState>,
    session: Session,
    ip: ClientIp,
    RequestInfo(request): RequestInfo,
    Json(credential): Json<PublicKeyCredential>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.sign_in_limit, ip, &state) {
        return Ok(response);
    }
    let Some(ceremony) = take_ceremony(&state, &session).await? else {
        return Ok(passkey_error(&PasskeyError::NoCeremony));
    };
    let mut tx = begin_system(&state.db, &SystemContext::default()).await?;
    let result = state.auth.passkeys.finish_discovery(&mut tx, ceremony, &credential).await;
    tx.commit().await?;
    match result {
        Ok(user) => {
            let next = signin::start(&state, &session, user, FirstFactor::Passkey, &request).await?;
            Ok(Json(json!({ "redirect": next })).into_response())
        }
        Err(error) => {
            let mut event = AuditEvent::new(Action::LoginFailed, Outcome::Failure);
            event.details = json!({ "method": "passkey" });
            audit_platform(&state, None, &request, event).await?;
            Ok(passkey_error(&error))
        }
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    RequestInfo(request): RequestInfo,
) -> AppResult<Response> {
    signin::sign_out(&state, &session, &request).await?;
    let mut response = Redirect::to("/sign-in").into_response();
    // The browser drops whatever it kept of this site (ASVS 14.3.1).
    response
        .headers_mut()
        .insert("clear-site-data", HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""));
    Ok(response)
}

/// What second factors a person has, for the challenge page.
async fn factors(state: &AppState, user: UserId) -> AppResult<(bool, bool)> {
    let mut tx =
        begin_system(&state.db, &SystemContext { user_id: Some(user), ..Default::default() }).await?;
    let totp = totp::load(&mut tx, &state.auth.data_key, user).await?.is_some();
    let passkeys = crate::auth::passkeys::count_usable(&mut tx, user).await? > 0;
    tx.commit().await?;
    Ok((totp, passkeys))
}

pub async fn challenge_page(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
) -> AppResult<Response> {
    if auth.second_factor_satisfied {
        return Ok(Redirect::to(&signin::next_step(&state, &session, &request).await?).into_response());
    }
    let (has_totp, has_passkey) = factors(&state, auth.user_id).await?;
    if !has_totp && !has_passkey {
        return Ok(Redirect::to("/mfa/enrol").into_response());
    }
    Ok(Page(ChallengePage { has_totp, has_passkey, error: None }).into_response())
}

#[derive(Deserialize)]
pub struct CodeForm {
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

/// A failed second factor: counted, audited, shown.
async fn second_factor_failed(
    state: &AppState,
    user: UserId,
    request: &crate::db::tenant::RequestMeta,
    method: &'static str,
    refused: CodeRefused,
) -> AppResult<Response> {
    let now = state.clock.now();
    if refused != CodeRefused::Locked {
        let mut tx = begin_system(&state.db, &system_for(user, request)).await?;
        throttle::record_failure(&mut tx, user, Factor::SecondFactor, now).await?;
        tx.commit().await?;
    }
    let mut event = AuditEvent::new(Action::MfaChallengeFailed, Outcome::Failure).resource("user", user);
    event.details = json!({ "method": method, "reason": refused.as_str() });
    audit_platform(state, Some(user), request, event).await?;
    let (has_totp, has_passkey) = factors(state, user).await?;
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

pub async fn challenge_totp(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    ip: ClientIp,
    RequestInfo(request): RequestInfo,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.second_factor_limit, ip, &state) {
        return Ok(response);
    }
    let now = state.clock.now();
    let user = auth.user_id;
    let mut tx = begin_system(&state.db, &system_for(user, &request)).await?;
    let locked = throttle::locked_until(&mut tx, user, Factor::SecondFactor, now).await?.is_some();
    let credential = totp::load(&mut tx, &state.auth.data_key, user).await?;
    let step = credential.as_ref().and_then(|c| totp::matching_step(&c.secret, &form.code, now));
    let accepted = match step {
        Some(step) if !locked => totp::spend_step(&mut tx, user, step).await?,
        _ => false,
    };
    if accepted {
        throttle::record_success(&mut tx, user, Factor::SecondFactor).await?;
    }
    tx.commit().await?;
    if accepted {
        let next = signin::complete_second_factor(&state, &session, "totp", &request).await?;
        return Ok(Redirect::to(&next).into_response());
    }
    let refused = match (locked, step) {
        (true, _) => CodeRefused::Locked,
        (false, None) => CodeRefused::Wrong,
        (false, Some(_)) => {
            // A right code that was already used: someone else may have it. Tell the person.
            notify(
                &state,
                user,
                "A sign-in code for your account was used twice; the second use was refused",
            )
            .await;
            CodeRefused::Replayed
        }
    };
    second_factor_failed(&state, user, &request, "totp", refused).await
}

pub async fn challenge_recovery(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    ip: ClientIp,
    RequestInfo(request): RequestInfo,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.second_factor_limit, ip, &state) {
        return Ok(response);
    }
    let now = state.clock.now();
    let user = auth.user_id;
    let mut tx = begin_system(&state.db, &system_for(user, &request)).await?;
    let locked = throttle::locked_until(&mut tx, user, Factor::SecondFactor, now).await?.is_some();
    let spent = !locked && recovery::spend(&mut tx, user, &form.code).await?;
    if spent {
        throttle::record_success(&mut tx, user, Factor::SecondFactor).await?;
    }
    let remaining = recovery::remaining(&mut tx, user).await?;
    tx.commit().await?;
    if !spent {
        let refused = if locked { CodeRefused::Locked } else { CodeRefused::Wrong };
        return second_factor_failed(&state, user, &request, "recovery_code", refused).await;
    }
    notify(&state, user, &format!("A recovery code was used to sign in; {remaining} codes are left")).await;
    let next = signin::complete_second_factor(&state, &session, "recovery_code", &request).await?;
    Ok(Redirect::to(&next).into_response())
}

pub async fn challenge_passkey_start(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    ip: ClientIp,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.second_factor_limit, ip, &state) {
        return Ok(response);
    }
    let mut tx =
        begin_system(&state.db, &SystemContext { user_id: Some(auth.user_id), ..Default::default() }).await?;
    let result = state.auth.passkeys.start_authentication(&mut tx, auth.user_id).await;
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

pub async fn challenge_passkey_finish(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
    Json(credential): Json<PublicKeyCredential>,
) -> AppResult<Response> {
    let Some(ceremony) = take_ceremony(&state, &session).await? else {
        return Ok(passkey_error(&PasskeyError::NoCeremony));
    };
    let mut tx = begin_system(&state.db, &system_for(auth.user_id, &request)).await?;
    let result =
        state.auth.passkeys.finish_authentication(&mut tx, auth.user_id, ceremony, &credential).await;
    tx.commit().await?;
    match result {
        Ok(()) => {
            let next = signin::complete_second_factor(&state, &session, "passkey", &request).await?;
            Ok(Json(json!({ "redirect": next })).into_response())
        }
        Err(error) => {
            let mut event =
                AuditEvent::new(Action::MfaChallengeFailed, Outcome::Failure).resource("user", auth.user_id);
            event.details = json!({ "method": "passkey" });
            audit_platform(&state, Some(auth.user_id), &request, event).await?;
            Ok(passkey_error(&error))
        }
    }
}

pub async fn enrol_page(session: Session, auth: Authenticated) -> AppResult<Response> {
    let data = session::load(&session).await?;
    let required = data.user.as_ref().is_some_and(|u| u.second_factor_required);
    if auth.second_factor_satisfied && auth.second_factor_enrolled {
        return Ok(Redirect::to("/account").into_response());
    }
    Ok(Page(EnrolPage { required }).into_response())
}

/// Tells a person about a security event on their account, by e-mail. Best effort: a
/// failed notice is logged, not shown.
pub async fn notify(state: &AppState, user: UserId, what: &str) {
    let result = async {
        let mut tx =
            begin_system(&state.db, &SystemContext { user_id: Some(user), ..Default::default() }).await?;
        let email =
            sqlx::query_scalar!(r#"SELECT email::text AS "email!" FROM users WHERE id = $1"#, user.as_uuid())
                .fetch_one(&mut *tx)
                .await?;
        let when = state.clock.now().format("%Y-%m-%d %H:%M UTC").to_string();
        let message =
            SecurityNotice { what: what.to_owned(), when }.render(&email).map_err(AppError::from)?;
        crate::notify::jobs::queue_account_email(&mut tx, &state.notifier, &message, state.clock.now())
            .await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    }
    .await;
    if result.is_err() {
        tracing::warn!(error.kind = "mail", "security notice not queued");
    }
}

#[derive(Deserialize)]
pub struct StrengthForm {
    #[serde(default)]
    password: String,
}

/// How hard a new password would be to guess, for the hint under the field. Beyond the
/// longest password accepted there is nothing to score.
pub async fn password_strength(Form(form): Form<StrengthForm>) -> Page<StrengthHint> {
    let hint = if form.password.len() > 4 * password_policy::MAX_LENGTH {
        ""
    } else {
        password_policy::strength_hint(&form.password, &[])
    };
    Page(StrengthHint { hint })
}

/// The form to ask for a reset link; like the sign-in form it may be the first page of a
/// visit, so it makes the pre-session CSRF token its form needs.
pub async fn forgot_page(State(state): State<AppState>, session: Session) -> AppResult<Page<ForgotPage>> {
    let mut data = session::load(&session).await?;
    if data.csrf.is_empty() {
        data.csrf = session::new_csrf_token();
        session::store(&session, &data, session::expiry_for(&data, state.clock.now(), absolute(&state)))
            .await?;
    }
    Ok(Page(ForgotPage { email: String::new(), sent: false }))
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    ip: ClientIp,
    RequestInfo(request): RequestInfo,
    Form(form): Form<ForgotForm>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.reset_limit, ip, &state) {
        return Ok(response);
    }
    let email = form.email.trim().to_owned();
    // The same page at the same speed whether or not the address has an account: the
    // look-up and the e-mail happen after the answer.
    let background = (state, email.clone(), request);
    tokio::spawn(async move {
        let (state, email, request) = background;
        if let Err(error) = send_reset_link(&state, &email, &request).await {
            tracing::warn!(error.kind = "reset", error.detail = %error, "password reset link not sent");
        }
    });
    Ok(Page(ForgotPage { email, sent: true }).into_response())
}

/// Issues a reset link for `email` if it belongs to an enabled account, and mails it.
async fn send_reset_link(
    state: &AppState,
    email: &str,
    request: &crate::db::tenant::RequestMeta,
) -> AppResult<()> {
    let now = state.clock.now();
    if let Some(account) = find_account(state, email).await?.filter(|a| !a.disabled) {
        let mut tx = begin_system(&state.db, &system_for(account.id, request)).await?;
        tokens::revoke_for_user(&mut tx, Purpose::PasswordReset, account.id).await?;
        let token = tokens::issue(
            &mut tx,
            NewToken {
                purpose: Purpose::PasswordReset,
                email,
                user_id: Some(account.id),
                organization_id: None,
                payload: json!({}),
                created_by: None,
            },
            now,
        )
        .await?;
        let link = format!("{}password/reset/{token}", state.config.http.public_url);
        let message = PasswordReset { link }.render(email)?;
        crate::notify::jobs::queue_account_email(&mut tx, &state.notifier, &message, now).await?;
        tx.commit().await?;
        let mut event =
            AuditEvent::new(Action::PasswordResetRequested, Outcome::Success).resource("user", account.id);
        event.details = json!({});
        audit_platform(state, Some(account.id), request, event).await?;
    }
    Ok(())
}

/// The link in the e-mail: the token moves into the session and out of the address bar
/// (and so out of history and any Referer), then the form is shown.
pub async fn reset_link(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let mut data = session::load(&session).await?;
    data.pending_token = Some((Purpose::PasswordReset.as_str().to_owned(), token));
    if data.csrf.is_empty() {
        data.csrf = session::new_csrf_token();
    }
    session::store(&session, &data, session::expiry_for(&data, now, absolute(&state))).await?;
    Ok(Redirect::to("/password/reset").into_response())
}

async fn pending_reset(state: &AppState, data: &SessionData) -> AppResult<Option<tokens::Token>> {
    let Some((purpose, token)) = data.pending_token.as_ref() else { return Ok(None) };
    if purpose != Purpose::PasswordReset.as_str() {
        return Ok(None);
    }
    let mut tx = begin_system(&state.db, &SystemContext::default()).await?;
    let found = tokens::peek(&mut tx, Purpose::PasswordReset, token, state.clock.now()).await?;
    tx.commit().await?;
    Ok(found)
}

pub async fn reset_page(State(state): State<AppState>, session: Session) -> AppResult<Response> {
    let data = session::load(&session).await?;
    let token = pending_reset(&state, &data).await?;
    Ok(Page(ResetPage {
        valid: token.is_some(),
        email: token.map(|t| t.email).unwrap_or_default(),
        min_length: password_policy::MIN_LENGTH_STAFF,
        error: None,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct ResetForm {
    password: String,
}

pub async fn reset(
    State(state): State<AppState>,
    session: Session,
    ip: ClientIp,
    RequestInfo(request): RequestInfo,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.reset_limit, ip, &state) {
        return Ok(response);
    }
    let now = state.clock.now();
    let mut data = session::load(&session).await?;
    let Some(token) = pending_reset(&state, &data).await? else {
        let page = ResetPage { valid: false, email: String::new(), min_length: 0, error: None };
        return Ok((StatusCode::GONE, Page(page)).into_response());
    };
    let Some(user) = token.user_id else { return Err(AppError::NotFound) };
    let staff = is_workforce(&state, user).await?;
    if let Err(refusal) = password_policy::check(&form.password, staff, &[&token.email]) {
        let page = ResetPage {
            valid: true,
            email: token.email,
            min_length: if staff { password_policy::MIN_LENGTH_STAFF } else { password_policy::MIN_LENGTH },
            error: Some(refusal.to_string()),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let hash = state.auth.passwords.hash(form.password).await?;
    let (_, text) = data.pending_token.take().ok_or(AppError::NotFound)?;
    let mut tx = begin_system(&state.db, &system_for(user, &request)).await?;
    // Spent in the same transaction as the change: a token works once.
    if tokens::redeem(&mut tx, Purpose::PasswordReset, &text, now).await?.is_none() {
        return Err(AppError::NotFound);
    }
    sqlx::query!("UPDATE users SET password_hash = $2 WHERE id = $1", user.as_uuid(), hash)
        .execute(&mut *tx)
        .await?;
    throttle::record_success(&mut tx, user, Factor::Password).await?;
    tx.commit().await?;
    // Every session of the account ends, including any an attacker holds.
    sessions::end_all(&state.db, user, None).await?;
    session::end(&session).await?;
    audit_platform(
        &state,
        Some(user),
        &request,
        AuditEvent::new(Action::PasswordChanged, Outcome::Success).resource("user", user),
    )
    .await?;
    notify(&state, user, "The password of your account was reset").await;
    Ok(Redirect::to("/sign-in?changed=password").into_response())
}

/// Whether a person holds any workforce role (staff or platform): longer passwords.
pub async fn is_workforce(state: &AppState, user: UserId) -> AppResult<bool> {
    let mut tx =
        begin_system(&state.db, &SystemContext { user_id: Some(user), ..Default::default() }).await?;
    let workforce = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM user_contexts WHERE user_id = $1 AND kind = 'staff')
               OR EXISTS (SELECT 1 FROM platform_roles WHERE user_id = $1 AND revoked_at IS NULL) AS "w!""#,
        user.as_uuid()
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(workforce)
}
