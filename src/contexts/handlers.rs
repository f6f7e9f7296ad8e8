use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::views::{ConsentPage, DocumentRow, OptionRow, PickerPage};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::contexts;
use crate::auth::middleware::Authenticated;
use crate::auth::session::{self, ContextClaim};
use crate::auth::signin;
use crate::db::ids::ConsentDocumentId;
use crate::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant};
use crate::web::{AppError, AppResult, AppState, Page, RequestInfo};

/// The contexts a person holds. Patient and proxy contexts show the patient's name (read
/// and audited per clinic).
pub async fn picker(
    State(state): State<AppState>,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
) -> AppResult<Page<PickerPage>> {
    let options = contexts::list(&state.db, auth.user_id, &request, state.clock.now()).await?;
    Ok(Page(PickerPage {
        options: options
            .into_iter()
            .map(|o| OptionRow {
                key: o.claim.key(),
                current: auth.context == Some(o.claim),
                role: o.role_label,
                organization: o.organization,
                patient: o.patient_name,
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
pub struct SelectForm {
    context: String,
}

pub async fn select(
    State(state): State<AppState>,
    session: Session,
    RequestInfo(request): RequestInfo,
    axum::extract::Form(form): axum::extract::Form<SelectForm>,
) -> AppResult<Response> {
    let claim = ContextClaim::parse_key(&form.context).ok_or(AppError::NotFound)?;
    let next = signin::enter(&state, &session, claim, &request).await?;
    Ok(Redirect::to(&next).into_response())
}

/// The documents the current context requires and the person has not accepted.
async fn missing(state: &AppState, auth: &Authenticated) -> AppResult<Vec<contexts::RequiredConsent>> {
    let claim = auth.context.ok_or(AppError::Unauthorized)?;
    let now = state.clock.now();
    match claim.organization_id() {
        Some(org) => {
            let context = TenantContext { user_id: Some(auth.user_id), ..TenantContext::system(org) };
            let mut tx = begin_tenant(&state.db, &context).await?;
            let missing = contexts::missing_consents(&mut tx, auth.user_id, Some(org), now).await?;
            tx.commit().await?;
            Ok(missing)
        }
        None => {
            let mut tx =
                begin_system(&state.db, &SystemContext { user_id: Some(auth.user_id), ..Default::default() })
                    .await?;
            let missing = contexts::missing_consents(&mut tx, auth.user_id, None, now).await?;
            tx.commit().await?;
            Ok(missing)
        }
    }
}

fn rows(documents: Vec<contexts::RequiredConsent>) -> Vec<DocumentRow> {
    documents
        .into_iter()
        .map(|d| DocumentRow { id: d.id.to_string(), title: d.title, version: d.version, body: d.body })
        .collect()
}

pub async fn consent_page(State(state): State<AppState>, auth: Authenticated) -> AppResult<Response> {
    if auth.context.is_none() {
        return Ok(Redirect::to("/contexts").into_response());
    }
    let documents = missing(&state, &auth).await?;
    if documents.is_empty() {
        return Ok(Redirect::to("/home").into_response());
    }
    Ok(Page(ConsentPage { documents: rows(documents), error: None }).into_response())
}

pub async fn accept(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    RequestInfo(request): RequestInfo,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let claim = auth.context.ok_or(AppError::Unauthorized)?;
    let documents = missing(&state, &auth).await?;
    // One `accept` field per ticked box.
    let accepted: Vec<ConsentDocumentId> = url::form_urlencoded::parse(&body)
        .filter(|(name, _)| name == "accept")
        .filter_map(|(_, value)| value.parse().ok())
        .collect();
    if documents.iter().any(|d| !accepted.contains(&d.id)) {
        let page = ConsentPage {
            documents: rows(documents),
            error: Some("Please tick each box to accept every document.".into()),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let ids: Vec<ConsentDocumentId> = documents.iter().map(|d| d.id).collect();
    let mut event = AuditEvent::new(Action::ConsentAccepted, Outcome::Success).resource("user", auth.user_id);
    event.details =
        serde_json::json!({ "documents": ids.iter().map(ToString::to_string).collect::<Vec<_>>() });
    match claim.organization_id() {
        Some(org) => {
            let context = TenantContext {
                user_id: Some(auth.user_id),
                request: request.clone(),
                ..TenantContext::system(org)
            };
            let mut tx = begin_tenant(&state.db, &context).await?;
            contexts::accept(&mut tx, auth.user_id, &ids, &request).await?;
            crate::audit::record(&mut tx, &context, &event).await?;
            tx.commit().await?;
        }
        None => {
            let context = SystemContext { user_id: Some(auth.user_id), request: request.clone() };
            let mut tx = begin_system(&state.db, &context).await?;
            contexts::accept(&mut tx, auth.user_id, &ids, &request).await?;
            crate::audit::record_platform(&mut tx, &context, &event).await?;
            tx.commit().await?;
        }
    }
    let now = state.clock.now();
    let mut data = session::load(&session).await?;
    if let Some(user) = data.user.as_mut() {
        user.consents_accepted = true;
    }
    let absolute =
        chrono::TimeDelta::from_std(state.config.auth.absolute).unwrap_or(chrono::TimeDelta::hours(12));
    session::store(&session, &data, session::expiry_for(&data, now, absolute)).await?;
    let next = data.return_to.take().unwrap_or_else(|| "/home".into());
    Ok(Redirect::to(&next).into_response())
}
