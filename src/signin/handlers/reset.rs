//! Forgotten passwords: asking for a link, following it, setting a new password; and the
//! strength hint under every new-password field.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use super::super::repo;
use super::super::views::{ForgotPage, ResetPage, StrengthHint};
use super::limited;
use super::sign_in::find_account;
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::emails::PasswordReset;
use crate::auth::throttle::{self, Factor};
use crate::auth::tokens::{self, NewToken, Purpose};
use crate::auth::{notices, password_policy, people, session, sessions};
use crate::web::client_ip::ClientIp;
use crate::web::{AppError, AppResult, AppState, Page, SystemTx};

#[derive(Deserialize)]
pub(crate) struct StrengthForm {
    #[serde(default)]
    password: String,
}

/// How hard a new password would be to guess, for the hint under the field. Beyond the
/// longest password accepted there is nothing to score.
pub(crate) async fn password_strength(Form(form): Form<StrengthForm>) -> Page<StrengthHint> {
    let hint = if form.password.len() > 4 * password_policy::MAX_LENGTH {
        ""
    } else {
        password_policy::strength_hint(&form.password, &[])
    };
    Page(StrengthHint { hint })
}

/// The form to ask for a reset link; like the sign-in form it may be the first page of a
/// visit, so it makes the pre-session CSRF token its form needs.
pub(crate) async fn forgot_page(
    State(state): State<AppState>,
    session: Session,
) -> AppResult<Page<ForgotPage>> {
    session::ensure_csrf(&session, state.clock.now(), state.config.auth.absolute_limit()).await?;
    Ok(Page(ForgotPage { email: String::new(), sent: false }))
}

#[derive(Deserialize)]
pub(crate) struct ForgotForm {
    email: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    ip: ClientIp,
    tx: SystemTx,
    Form(form): Form<ForgotForm>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.reset_limit, ip, &state) {
        return Ok(response);
    }
    let email = form.email.trim().to_owned();
    // The same page at the same speed whether or not the address has an account: the
    // look-up and the e-mail happen after the answer.
    let mut background = tx.detached();
    let address = email.clone();
    tokio::spawn(async move {
        if let Err(error) = send_reset_link(&state, &mut background, &address).await {
            tracing::warn!(error.kind = "reset", error.detail = %error, "password reset link not sent");
        }
    });
    Ok(Page(ForgotPage { email, sent: true }).into_response())
}

/// Issues a reset link for `email` if it belongs to an enabled account, and mails it.
async fn send_reset_link(state: &AppState, tx: &mut SystemTx, email: &str) -> AppResult<()> {
    let now = tx.now();
    let Some(account) = find_account(tx, email).await?.filter(|a| !a.disabled) else { return Ok(()) };
    tx.set_user(Some(account.id)).await?;
    tokens::revoke_for_user(tx.conn().await?, Purpose::PasswordReset, account.id).await?;
    tokens::mail_link(
        tx.conn().await?,
        &state.notifier,
        &state.config.http.public_url,
        "password/reset/",
        NewToken {
            purpose: Purpose::PasswordReset,
            email,
            user_id: Some(account.id),
            organization_id: None,
            payload: json!({}),
            created_by: None,
        },
        now,
        |link| PasswordReset { link: link.url }.render(email),
    )
    .await?;
    let event =
        AuditEvent::new(Action::PasswordResetRequested, Outcome::Success).resource("user", account.id);
    tx.audit(&event).await?;
    tx.commit().await
}

/// The link in the e-mail: the token moves into the session and out of the address bar
/// (and so out of history and any Referer), then the form is shown.
pub(crate) async fn reset_link(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let purpose = Purpose::PasswordReset.as_str();
    session::park_token(&session, purpose, token, state.clock.now(), state.config.auth.absolute_limit())
        .await?;
    Ok(Redirect::to("/password/reset").into_response())
}

async fn pending_reset(tx: &mut SystemTx, session: &Session) -> AppResult<Option<(String, tokens::Token)>> {
    let data = session::load(session).await?;
    let Some(text) = session::parked_token(&data, Purpose::PasswordReset.as_str()) else { return Ok(None) };
    let now = tx.now();
    let found = tokens::peek(tx.conn().await?, Purpose::PasswordReset, text, now).await?;
    Ok(found.map(|token| (text.to_owned(), token)))
}

pub(crate) async fn reset_page(session: Session, mut tx: SystemTx) -> AppResult<Response> {
    let token = pending_reset(&mut tx, &session).await?;
    tx.commit().await?;
    Ok(Page(ResetPage {
        valid: token.is_some(),
        email: token.map(|(_, t)| t.email).unwrap_or_default(),
        min_length: password_policy::MIN_LENGTH_STAFF,
        error: None,
    })
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    password: String,
}

pub async fn reset(
    State(state): State<AppState>,
    session: Session,
    ip: ClientIp,
    mut tx: SystemTx,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.reset_limit, ip, &state) {
        return Ok(response);
    }
    let now = tx.now();
    let Some((text, token)) = pending_reset(&mut tx, &session).await? else {
        let page = ResetPage { valid: false, email: String::new(), min_length: 0, error: None };
        return Ok((StatusCode::GONE, Page(page)).into_response());
    };
    let Some(user) = token.user_id else { return Err(AppError::NotFound) };
    tx.set_user(Some(user)).await?;
    let staff = people::is_workforce(tx.conn().await?, user).await?;
    tx.commit().await?;
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
    // One transaction: the token spent, the new password, every session of the account
    // ended (including any an attacker holds), the event and the notice.
    if tokens::redeem(tx.conn().await?, Purpose::PasswordReset, &text, now).await?.is_none() {
        return Err(AppError::NotFound);
    }
    // A disabled account stays without a usable password (the transaction rolls back).
    let changed = repo::reset_password(tx.conn().await?, user, &hash).await?;
    if !changed {
        return Err(AppError::NotFound);
    }
    throttle::record_success(tx.conn().await?, user, Factor::Password).await?;
    sessions::end_all(tx.conn().await?, user, None).await?;
    tx.audit(&AuditEvent::new(Action::PasswordChanged, Outcome::Success).resource("user", user)).await?;
    notices::tell(tx.conn().await?, &state.notifier, user, "The password of your account was reset", now)
        .await?;
    tx.commit().await?;
    session::end(&session).await?;
    Ok(Redirect::to("/sign-in?changed=password").into_response())
}
