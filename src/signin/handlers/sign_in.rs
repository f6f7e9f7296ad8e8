//! Signing in and out: the password form, passkeys without a password, and sign-out.

use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;
use webauthn_rs::prelude::PublicKeyCredential;

use super::super::repo::{self, Account};
use super::super::views::SignInPage;
use super::{SIGN_IN_FAILED, limited, passkey_error, step};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::passkeys::PasskeyError;
use crate::auth::password;
use crate::auth::session;
use crate::auth::signin::{self, FirstFactor};
use crate::auth::throttle::{self, Factor};
use crate::db::ids::UserId;
use crate::web::authenticate::SessionExpired;
use crate::web::client_ip::ClientIp;
use crate::web::{AppResult, AppState, Page, SystemTx};

#[derive(Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
    /// Set after a password reset, to say so.
    changed: Option<String>,
}

pub(crate) async fn sign_in_page(
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
    session::store(&session, &data, session::expiry_for(&data, now, state.config.auth.absolute_limit()))
        .await?;
    let notice = (query.changed.as_deref() == Some("password"))
        .then(|| "Your password was changed. Sign in with it now.".to_owned());
    Ok(Page(SignInPage { email: String::new(), error: None, notice, expired: expired.is_some() })
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    email: String,
    password: String,
}

pub(super) async fn find_account(tx: &mut SystemTx, email: &str) -> AppResult<Option<Account>> {
    Ok(repo::account_by_email(tx.conn().await?, email).await?)
}

pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    ip: ClientIp,
    mut tx: SystemTx,
    Form(form): Form<SignInForm>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.sign_in_limit, ip, &state) {
        return Ok(response);
    }
    let now = tx.now();
    let email = form.email.trim().to_owned();
    let account = find_account(&mut tx, &email).await?;

    // A locked account is not even checked, but the work (and time) of a check is done
    // all the same: against a dummy hash, like an unknown address. An unknown address
    // also looks for a lock (of nobody), so both paths make the same round trips.
    let probe = account.as_ref().map_or(UserId::from_uuid(uuid::Uuid::nil()), |a| a.id);
    tx.set_user(Some(probe)).await?;
    let locked = throttle::locked_until(tx.conn().await?, probe, Factor::Password, now).await?.is_some();
    // No connection is held while the hash is computed (it may wait behind others).
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
        tx.set_user(failed_user).await?;
        match (failed_user, locked) {
            (Some(user), false) => {
                throttle::record_failure(tx.conn().await?, user, Factor::Password, now).await?;
            }
            // The same round trip for an address with no account (or a locked one).
            _ => throttle::record_failure_of_nobody(tx.conn().await?, Factor::Password, now).await?,
        }
        tx.audit(&event).await?;
        tx.commit().await?;
        let page = SignInPage { email, error: Some(SIGN_IN_FAILED.into()), notice: None, expired: false };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    };

    // Hashes made with older, weaker parameters are replaced now that the password is known.
    let upgraded = if password::needs_rehash(&hash) {
        Some(state.auth.passwords.hash(form.password).await?)
    } else {
        None
    };
    tx.set_user(Some(account.id)).await?;
    throttle::record_success(tx.conn().await?, account.id, Factor::Password).await?;
    if let Some(upgraded) = upgraded {
        repo::replace_hash(tx.conn().await?, account.id, &upgraded).await?;
    }
    let step = step(&state, &session, &tx);
    let outcome = signin::start(tx.conn().await?, &step, account.id, FirstFactor::Password).await;
    let next = signin::settle(&step, outcome, tx.commit()).await?;
    Ok(Redirect::to(&next).into_response())
}

pub(super) async fn remember_ceremony(
    state: &AppState,
    session: &Session,
    ceremony: uuid::Uuid,
) -> AppResult<()> {
    let mut data = session::load(session).await?;
    if data.csrf.is_empty() {
        data.csrf = session::new_csrf_token();
    }
    data.ceremony = Some(ceremony);
    session::store(
        session,
        &data,
        session::expiry_for(&data, state.clock.now(), state.config.auth.absolute_limit()),
    )
    .await
}

pub(super) async fn take_ceremony(state: &AppState, session: &Session) -> AppResult<Option<uuid::Uuid>> {
    let mut data = session::load(session).await?;
    let ceremony = data.ceremony.take();
    session::store(
        session,
        &data,
        session::expiry_for(&data, state.clock.now(), state.config.auth.absolute_limit()),
    )
    .await?;
    Ok(ceremony)
}

pub(crate) async fn passkey_sign_in_start(
    State(state): State<AppState>,
    session: Session,
    ip: ClientIp,
    mut tx: SystemTx,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.sign_in_limit, ip, &state) {
        return Ok(response);
    }
    let result = state.auth.passkeys.start_discovery(tx.conn().await?).await;
    tx.commit().await?;
    match result {
        Ok((ceremony, options)) => {
            remember_ceremony(&state, &session, ceremony).await?;
            Ok(Json(options).into_response())
        }
        Err(error) => Ok(passkey_error(&error)),
    }
}

pub(crate) async fn passkey_sign_in_finish(
    State(state): State<AppState>,
    session: Session,
    ip: ClientIp,
    mut tx: SystemTx,
    Json(credential): Json<PublicKeyCredential>,
) -> AppResult<Response> {
    if let Some(response) = limited(&state.auth.sign_in_limit, ip, &state) {
        return Ok(response);
    }
    let Some(ceremony) = take_ceremony(&state, &session).await? else {
        return Ok(passkey_error(&PasskeyError::NoCeremony));
    };
    let result = state.auth.passkeys.finish_discovery(tx.conn().await?, ceremony, &credential).await;
    match result {
        Ok(user) => {
            tx.set_user(Some(user)).await?;
            let step = step(&state, &session, &tx);
            let outcome = signin::start(tx.conn().await?, &step, user, FirstFactor::Passkey).await;
            let next = signin::settle(&step, outcome, tx.commit()).await?;
            Ok(Json(json!({ "redirect": next })).into_response())
        }
        Err(error) => {
            let mut event = AuditEvent::new(Action::LoginFailed, Outcome::Failure);
            event.details = json!({
                "method": "passkey",
                "reason": if matches!(error, PasskeyError::AccountDisabled) { "disabled" } else { "credentials" },
            });
            // The counter of a copied passkey is disabled in the same transaction.
            tx.audit(&event).await?;
            tx.commit().await?;
            Ok(passkey_error(&error))
        }
    }
}

pub(crate) async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    mut tx: SystemTx,
) -> AppResult<Response> {
    let step = step(&state, &session, &tx);
    signin::sign_out(tx.conn().await?, &step).await?;
    tx.commit().await?;
    let mut response = Redirect::to("/sign-in").into_response();
    // The browser drops whatever it kept of this site (ASVS 14.3.1).
    response
        .headers_mut()
        .insert("clear-site-data", HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""));
    Ok(response)
}
