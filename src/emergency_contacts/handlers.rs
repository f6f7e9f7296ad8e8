use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::domain::{MOST, check};
use super::repo;
use super::views::{AddForm, ContactRow, EmergencyContactsSection};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::Permission;
use crate::chart::{self, Chart, ChartFrame};
use crate::contact_info::display;
use crate::db::ids::EmergencyContactId;
use crate::web::{AppError, AppResult, Framed, TenantTx, parse_form};

type Page = Framed<ChartFrame, EmergencyContactsSection>;

async fn render(tx: &TenantTx, chart: &Chart, notice: Option<String>) -> AppResult<EmergencyContactsSection> {
    let contacts = repo::current(&mut *tx.conn().await?, chart.id()).await?;
    Ok(EmergencyContactsSection {
        patient_id: chart.id().to_string(),
        notice,
        error: None,
        full: i64::try_from(contacts.len()).unwrap_or(i64::MAX) >= MOST,
        contacts: contacts
            .into_iter()
            .map(|c| ContactRow {
                id: c.id.to_string(),
                phone_display: display("mobile", &c.phone),
                name: c.name,
                relationship: c.relationship,
                phone: c.phone,
            })
            .collect(),
        can_edit: chart.allows(tx, Permission::EditContacts),
        form: AddForm::default(),
    })
}

/// The audit purpose of this section's answers.
const PURPOSE: &str = "chart.emergency_contacts";

fn event(chart: &Chart, action: Action) -> AuditEvent {
    chart.event(action, PURPOSE)
}

fn page(chart: &Chart, section: EmergencyContactsSection) -> Page {
    Framed(chart.frame(super::SECTION), section)
}

/// A refusal: the section again (its read on record) with what was wrong, as 422.
async fn refused(tx: &TenantTx, chart: &Chart, section: EmergencyContactsSection) -> AppResult<Response> {
    chart.refused(tx, super::SECTION, PURPOSE, section).await
}

pub async fn section(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page> {
    let chart = chart::open(&tx, &id, Permission::ViewContacts).await?;
    let section = render(&tx, &chart, None).await?;
    tx.audit(&event(&chart, Action::Read)).await?;
    Ok(page(&chart, section))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct NewContactForm {
    name: String,
    relationship: String,
    phone: String,
}

pub async fn add(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::EditContacts).await?;
    let form: NewContactForm = parse_form(&body)?;
    let checked = check(&form.name, &form.relationship, &form.phone);
    let saved = match &checked {
        Ok((name, relationship, phone)) => {
            let new = repo::NewContact {
                clinic: tx.context().tenant.organization_id,
                patient: chart.id(),
                name,
                relationship,
                phone,
                by: tx.context().tenant.person(),
            };
            repo::add(&mut *tx.conn().await?, &new, MOST).await?
        }
        Err(_) => None,
    };
    let Some(saved) = saved else {
        let mut section = render(&tx, &chart, None).await?;
        let problems = checked.as_ref().err().cloned().unwrap_or_default();
        if checked.is_ok() {
            section.error =
                Some(format!("A chart keeps {MOST} emergency contacts at most: remove one first."));
        }
        section.form = AddForm {
            name_error: problems.name,
            relationship_error: problems.relationship,
            phone_error: problems.phone,
            name: form.name,
            relationship: form.relationship,
            phone: form.phone,
        };
        return refused(&tx, &chart, section).await;
    };
    tx.audit(&event(&chart, Action::Create).details(json!({ "emergency_contact_id": saved.to_string() })))
        .await?;
    let name = checked.map(|(name, _, _)| name).unwrap_or_default();
    let section = render(&tx, &chart, Some(format!("{name} added as an emergency contact."))).await?;
    Ok(page(&chart, section).into_response())
}

pub async fn remove(tx: TenantTx, Path((id, contact_id)): Path<(String, String)>) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::EditContacts).await?;
    let contact: EmergencyContactId = contact_id.parse().map_err(|_| AppError::NotFound)?;
    let by = tx.context().tenant.person();
    let Some(name) = repo::remove(&mut *tx.conn().await?, chart.id(), contact, tx.now(), by).await? else {
        return Err(tx.not_found("emergency_contact", contact.as_uuid()).await);
    };
    tx.audit(&event(&chart, Action::Delete).details(json!({ "emergency_contact_id": contact.to_string() })))
        .await?;
    let section = render(&tx, &chart, Some(format!("{name} is no longer an emergency contact."))).await?;
    Ok(page(&chart, section).into_response())
}
