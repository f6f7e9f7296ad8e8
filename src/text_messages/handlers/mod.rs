use axum::extract::State;
use axum::response::{IntoResponse, Response};

pub(super) mod inbound;

use super::repo::{self, current_terms};
use super::views::{TermsView, TextMessagesPage};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{PatientFacts, Permission, Principal, Target};
use crate::db::ids::PatientId;
use crate::web::{AppError, AppResult, AppState, Page, TenantTx};

/// The patient this portal context is about: the patient themself, or the one a proxy
/// cares for. Staff have no text-message consent of their own to give here.
async fn own_patient(tx: &TenantTx, permission: Permission) -> AppResult<(PatientId, bool)> {
    let (patient, proxy) = match tx.context().principal {
        Principal::Patient { patient_id } => (patient_id, false),
        Principal::Proxy { patient_id, .. } => (patient_id, true),
        _ => return Err(AppError::Forbidden),
    };
    let facts = PatientFacts { patient_id: patient, on_care_team: false, sensitive: false };
    tx.authorize(permission, Target::Patient(facts), "patient").await?;
    Ok((patient, proxy))
}

async fn render(tx: &TenantTx, state: &AppState, notice: Option<String>) -> AppResult<TextMessagesPage> {
    let (patient, proxy) = own_patient(tx, Permission::ViewDemographics).await?;
    let user = tx.context().tenant.person().ok_or(AppError::Unauthorized)?;
    let mut db = tx.conn().await?;
    let terms = current_terms(&mut db, state.clock.now()).await?;
    let consent = repo::status(&mut db, user, patient).await?;
    let about = if proxy { repo::patient_name(&mut db, patient).await? } else { None };
    drop(db);
    tx.audit(
        &AuditEvent::success(Action::Read, "patient", patient)
            .patient(patient)
            .purpose("portal.text_messages"),
    )
    .await?;
    Ok(TextMessagesPage {
        about,
        terms: terms.map(|t| TermsView { title: t.title, version: t.version, body: t.body }),
        consent: consent.map(|c| (c.version, c.accepted_at.format("%Y-%m-%d").to_string())),
        notice,
    })
}

pub async fn page(State(state): State<AppState>, tx: TenantTx) -> AppResult<Page<TextMessagesPage>> {
    Ok(Page(render(&tx, &state, None).await?))
}

pub async fn agree(State(state): State<AppState>, tx: TenantTx) -> AppResult<Response> {
    let (patient, _) = own_patient(&tx, Permission::ViewDemographics).await?;
    let user = tx.context().tenant.person().ok_or(AppError::Unauthorized)?;
    let now = state.clock.now();
    let terms = {
        let mut db = tx.conn().await?;
        let Some(terms) = current_terms(&mut db, now).await? else {
            return Err(AppError::BadRequest("This clinic does not send text messages yet.".into()));
        };
        repo::agree(&mut db, user, patient, terms.id, &tx.context().tenant.request, now).await?;
        terms
    };
    let mut event =
        AuditEvent::success(Action::ConsentAccepted, "consent_document", terms.id).patient(patient);
    event.details = serde_json::json!({ "kind": "sms", "version": terms.version });
    tx.audit(&event).await?;
    let notice =
        Some("Thank you. The clinic may now send you text messages about appointments and care.".into());
    Ok(Page(render(&tx, &state, notice).await?).into_response())
}

pub async fn withdraw(State(state): State<AppState>, tx: TenantTx) -> AppResult<Response> {
    let (patient, _) = own_patient(&tx, Permission::ViewDemographics).await?;
    let user = tx.context().tenant.person().ok_or(AppError::Unauthorized)?;
    let withdrawn = repo::withdraw(&mut *tx.conn().await?, user, patient, state.clock.now()).await?;
    let mut event = AuditEvent::success(Action::ConsentWithdrawn, "patient", patient).patient(patient);
    event.details = serde_json::json!({ "kind": "sms", "consents": withdrawn });
    tx.audit(&event).await?;
    let notice = Some("Done. No more text messages will be sent to you about this care.".into());
    Ok(Page(render(&tx, &state, notice).await?).into_response())
}
