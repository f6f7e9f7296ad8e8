//! Step-up: the password asked again before a sensitive change. Throttled per account
//! like sign-in (the same counter: a session in the wrong hands must not become a way to
//! guess the password faster than the sign-in form allows).

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use super::super::repo;
use super::super::views::ReauthenticatePage;
use super::step;
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::session::safe_return_path;
use crate::auth::throttle::{self, Attempt, Factor};
use crate::auth::{password, signin};
use crate::web::authenticate::Authenticated;
use crate::web::client_ip::ClientIp;
use crate::web::{AppResult, AppState, Page, SystemTx};

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    pub(super) next: Option<String>,
}

pub async fn page(Query(query): Query<NextQuery>) -> Page<ReauthenticatePage> {
    let next = query.next.as_deref().and_then(safe_return_path).unwrap_or_else(|| "/account".into());
    Page(ReauthenticatePage { next, error: None })
}

#[derive(Deserialize)]
pub(crate) struct ReauthForm {
    password: String,
    next: String,
}

pub async fn reauthenticate(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    ip: ClientIp,
    mut tx: SystemTx,
    Form(form): Form<ReauthForm>,
) -> AppResult<Response> {
    // Per address as on the sign-in form, and per account below.
    if let Some(response) = state.auth.sign_in_limit.refuse(ip, state.clock.now()) {
        return Ok(response);
    }
    let next = safe_return_path(&form.next).unwrap_or_else(|| "/account".into());
    let now = tx.now();
    let user = auth.user_id;
    let attempt = throttle::reserve(tx.conn().await?, user, Factor::Password, now).await?;
    let locked = attempt == Attempt::Locked;
    let hash = repo::password_hash(tx.conn().await?, user)
        .await?
        .filter(|_| !locked)
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    // The attempt is counted before the hash is computed (and no connection is held
    // meanwhile), so parallel attempts cannot outrun the lock.
    tx.commit().await?;
    if !state.auth.passwords.verify(form.password, hash).await? || locked {
        let mut event = AuditEvent::new(Action::LoginFailed, Outcome::Failure).resource("user", user);
        event.details = json!({ "method": "password", "reason": if locked { "locked" } else { "step_up" } });
        tx.audit(&event).await?;
        tx.commit().await?;
        let error = if locked {
            "Too many wrong passwords. Wait a few minutes, then try again."
        } else {
            "That password did not work."
        };
        let page = ReauthenticatePage { next, error: Some(error.into()) };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    throttle::record_success(tx.conn().await?, user, Factor::Password).await?;
    tx.commit().await?;
    signin::mark_reauthenticated(&step(&state, &session, &tx)).await?;
    Ok(Redirect::to(&next).into_response())
}
