use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::views::{ConsentPage, DocumentRow, OptionRow, PickerPage};
use crate::audit::{self, Action, AuditEvent, Outcome};
use crate::auth::contexts;
use crate::auth::session::{self, ContextClaim};
use crate::auth::signin;
use crate::db::ids::ConsentDocumentId;
use crate::db::tenant::{TenantContext, scoped};
use crate::web::authenticate::Authenticated;
use crate::web::{AppError, AppResult, AppState, Page, SystemTx};

/// The contexts a person holds. Patient and proxy contexts show the patient's name (read
/// and audited per clinic).
pub(crate) async fn picker(auth: Authenticated, mut tx: SystemTx) -> AppResult<Page<PickerPage>> {
    let (request, now) = (tx.request().clone(), tx.now());
    let options = contexts::list(tx.conn().await?, auth.user_id, &request, now).await?;
    let suspended = contexts::suspended_clinics(tx.conn().await?, auth.user_id).await?;
    tx.commit().await?;
    Ok(Page(PickerPage {
        suspended,
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
pub(crate) struct SelectForm {
    context: String,
}

pub async fn select(
    State(state): State<AppState>,
    session: Session,
    mut tx: SystemTx,
    axum::extract::Form(form): axum::extract::Form<SelectForm>,
) -> AppResult<Response> {
    let claim = ContextClaim::parse_key(&form.context).ok_or(AppError::NotFound)?;
    let step = state.sign_in_step(&session, tx.request().clone(), tx.now());
    let outcome = signin::enter(tx.conn().await?, &step, claim).await;
    let next = signin::settle(&step, outcome, tx.commit()).await?;
    Ok(Redirect::to(&next).into_response())
}

/// The clinic's scope for `claim`, or none for a platform context.
fn clinic_scope(auth: &Authenticated, claim: ContextClaim, tx: &SystemTx) -> Option<TenantContext> {
    claim.organization_id().map(|org| TenantContext {
        user_id: Some(auth.user_id),
        request: tx.request().clone(),
        ..TenantContext::system(org)
    })
}

/// The documents the current context requires and the person has not accepted.
async fn missing(auth: &Authenticated, tx: &mut SystemTx) -> AppResult<Vec<contexts::RequiredConsent>> {
    let claim = auth.context.ok_or(AppError::Unauthorized)?;
    let now = tx.now();
    let scope = clinic_scope(auth, claim, tx);
    let conn = tx.conn().await?;
    Ok(match scope {
        Some(context) => {
            scoped(conn, &context, async |tx| contexts::missing_consents(tx, auth.user_id, claim, now).await)
                .await?
        }
        None => contexts::missing_consents(conn, auth.user_id, claim, now).await?,
    })
}

fn rows(documents: Vec<contexts::RequiredConsent>) -> Vec<DocumentRow> {
    documents
        .into_iter()
        .map(|d| DocumentRow { id: d.id.to_string(), title: d.title, version: d.version, body: d.body })
        .collect()
}

pub(crate) async fn consent_page(auth: Authenticated, mut tx: SystemTx) -> AppResult<Response> {
    if auth.context.is_none() {
        return Ok(Redirect::to("/contexts").into_response());
    }
    let documents = missing(&auth, &mut tx).await?;
    tx.commit().await?;
    if documents.is_empty() {
        return Ok(Redirect::to("/home").into_response());
    }
    Ok(Page(ConsentPage { documents: rows(documents), error: None }).into_response())
}

pub async fn accept(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let claim = auth.context.ok_or(AppError::Unauthorized)?;
    let documents = missing(&auth, &mut tx).await?;
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
    let request = tx.request().clone();
    match clinic_scope(&auth, claim, &tx) {
        Some(context) => {
            let conn = tx.conn().await?;
            scoped(conn, &context, async |conn| {
                contexts::accept(&mut *conn, auth.user_id, claim, &ids, &request).await?;
                audit::record(conn, &context, &event).await
            })
            .await?;
        }
        None => {
            contexts::accept(tx.conn().await?, auth.user_id, claim, &ids, &request).await?;
            tx.audit(&event).await?;
        }
    }
    tx.commit().await?;
    let mut data = session::load(&session).await?;
    if let Some(user) = data.user.as_mut() {
        user.consents_accepted = true;
    }
    let next = data.return_to.take().unwrap_or_else(|| "/home".into());
    let step = state.sign_in_step(&session, request, tx.now());
    step.store(&data).await?;
    Ok(Redirect::to(&next).into_response())
}
