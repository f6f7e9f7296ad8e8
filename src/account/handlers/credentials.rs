//! The password and the sign-in address.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use super::super::repo;
use super::super::views::VerifyEmailPage;
use super::security::{Said, facts, render};
use super::step;
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::emails::EmailVerification;
use crate::auth::tokens::{self, NewToken, Purpose};
use crate::auth::{notices, password_policy, session, signin};
use crate::db::ids::UserId;
use crate::web::authenticate::Authenticated;
use crate::web::{AppError, AppResult, AppState, Page, StepUp, SystemTx};

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    password: String,
}

/// A new password: the hash, the other sessions ended, the audit event and the notice
/// are one transaction, so the change never stands without its record.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    step_up: StepUp,
    mut tx: SystemTx,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    if let Some(refusal) = step_up.refusal_returning_to("/account") {
        return Ok(refusal);
    }
    let user = auth.user_id;
    let facts = facts(&state, &mut tx, user).await?;
    if let Err(refusal) = password_policy::check(&form.password, facts.workforce, &[&facts.email]) {
        let said = Said { password_error: Some(refusal.to_string()), ..Default::default() };
        let page = render(&state, &mut tx, &session, user, said).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    // No connection is held while the hash is computed.
    tx.commit().await?;
    let hash = state.auth.passwords.hash(form.password).await?;
    repo::set_password_hash(tx.conn().await?, user, &hash).await?;
    let ended = signin::end_other_sessions(tx.conn().await?, user, &session).await?;
    let mut event = AuditEvent::new(Action::PasswordChanged, Outcome::Success).resource("user", user);
    event.details = json!({ "other_sessions_ended": ended });
    tx.audit(&event).await?;
    let now = tx.now();
    notices::tell(tx.conn().await?, &state.notifier, user, "The password of your account was changed", now)
        .await?;
    let notice = Some("Your password was changed. Other sessions were signed out.".into());
    let page = render(&state, &mut tx, &session, user, Said { notice, ..Default::default() }).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}

#[derive(Deserialize)]
pub(crate) struct EmailForm {
    email: String,
}

pub(crate) async fn change_email(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    step_up: StepUp,
    mut tx: SystemTx,
    Form(form): Form<EmailForm>,
) -> AppResult<Response> {
    let now = tx.now();
    if let Some(refusal) = step_up.refusal_returning_to("/account") {
        return Ok(refusal);
    }
    let typed = form.email.trim().to_owned();
    let email = match crate::contact_info::normalize_email(&typed) {
        Ok(email) => email,
        Err(problem) => {
            let said = Said { email_error: Some((typed, problem.into())), ..Default::default() };
            let page = render(&state, &mut tx, &session, auth.user_id, said).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
        }
    };
    let taken = repo::email_taken(tx.conn().await?, &email).await?;
    // An address already in use gets no link, but the answer is the same (no oracle).
    if !taken {
        tokens::revoke_for_user(tx.conn().await?, Purpose::EmailVerification, auth.user_id).await?;
        tokens::mail_link(
            tx.conn().await?,
            &state.notifier,
            &state.config.http.public_url,
            "account/email/verify/",
            NewToken {
                purpose: Purpose::EmailVerification,
                email: &email,
                user_id: Some(auth.user_id),
                organization_id: None,
                payload: json!({}),
                created_by: Some(auth.user_id),
            },
            now,
            |link| EmailVerification { link: link.url }.render(&email),
        )
        .await?;
    }
    let notice = Some(format!("We sent a link to {email}. Open it to finish the change."));
    let page = render(&state, &mut tx, &session, auth.user_id, Said { notice, ..Default::default() }).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}

pub(crate) async fn verify_email_link(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let purpose = Purpose::EmailVerification.as_str();
    session::park_token(&session, purpose, token, state.clock.now(), state.config.auth.absolute_limit())
        .await?;
    Ok(Redirect::to("/account/email/verify").into_response())
}

/// The verification parked in this session, if it is still good and was asked for by
/// `user` (a link opened in someone else's session does nothing).
async fn pending_verification(
    tx: &mut SystemTx,
    session: &Session,
    user: UserId,
) -> AppResult<Option<(String, tokens::Token)>> {
    let data = session::load(session).await?;
    let Some(text) = session::parked_token(&data, Purpose::EmailVerification.as_str()) else {
        return Ok(None);
    };
    let now = tx.now();
    let token = tokens::peek(tx.conn().await?, Purpose::EmailVerification, text, now).await?;
    Ok(token.filter(|t| t.user_id == Some(user)).map(|t| (text.to_owned(), t)))
}

pub(crate) async fn verify_email_page(
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
) -> AppResult<Page<VerifyEmailPage>> {
    let pending = pending_verification(&mut tx, &session, auth.user_id).await?;
    tx.commit().await?;
    Ok(Page(VerifyEmailPage { new_email: pending.map(|(_, t)| t.email) }))
}

pub(crate) async fn confirm_email(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
) -> AppResult<Response> {
    let now = tx.now();
    let Some((text, token)) = pending_verification(&mut tx, &session, auth.user_id).await? else {
        return Ok(Page(VerifyEmailPage { new_email: None }).into_response());
    };
    if tokens::redeem(tx.conn().await?, Purpose::EmailVerification, &text, now).await?.is_none() {
        return Ok(Page(VerifyEmailPage { new_email: None }).into_response());
    }
    let old = crate::auth::people::email(tx.conn().await?, auth.user_id).await?;
    let changed = repo::change_email(tx.conn().await?, auth.user_id, &token.email, now).await?;
    if !changed {
        return Err(AppError::BadRequest("That address is no longer available.".into()));
    }
    tx.audit(&AuditEvent::new(Action::EmailChanged, Outcome::Success).resource("user", auth.user_id)).await?;
    // The old address hears about it too.
    let what = "The sign-in e-mail address of your account was changed";
    notices::tell_address(tx.conn().await?, &state.notifier, &old, what, now).await?;
    tx.commit().await?;
    let mut data = session::load(&session).await?;
    data.pending_token = None;
    step(&state, &session, &tx).store(&data).await?;
    Ok(Redirect::to("/account?done=email-changed").into_response())
}
