use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::domain::{STOP_REASONS, check, stop_reason};
use super::repo;
use super::views::{AddForm, MedicationRow, MedicationsSection};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::Permission;
use crate::chart::{self, Chart, ChartFrame, past_day};
use crate::db::ids::MedicationId;
use crate::web::{AppError, AppResult, Framed, TenantTx, parse_form};

type Page = Framed<ChartFrame, MedicationsSection>;

async fn render(tx: &TenantTx, chart: &Chart, notice: Option<String>) -> AppResult<MedicationsSection> {
    let medications = repo::list(&mut *tx.conn().await?, chart.id()).await?;
    let day =
        |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&chart.timezone).format("%Y-%m-%d").to_string();
    let (current, stopped): (Vec<_>, Vec<_>) = medications
        .into_iter()
        .map(|m| MedicationRow {
            id: m.id.to_string(),
            sig: [m.dose, m.frequency].into_iter().flatten().collect::<Vec<_>>().join(", "),
            name: m.name,
            started: m.started_on.map(|d| d.format("%Y-%m-%d").to_string()),
            prescriber: m.prescriber,
            recorded: match m.recorded_by {
                Some(by) => format!("{} by {by}", day(m.recorded_at)),
                None => day(m.recorded_at),
            },
            stopped: m.stopped_on.map(|d| match m.stopped_reason {
                Some(reason) => format!("{} ({reason})", d.format("%Y-%m-%d")),
                None => d.format("%Y-%m-%d").to_string(),
            }),
        })
        .partition(|m| m.stopped.is_none());
    Ok(MedicationsSection {
        patient_id: chart.id().to_string(),
        notice,
        error: None,
        current,
        stopped,
        can_record: chart.allows(tx, Permission::RecordClinicalSummary),
        today: tx.now().with_timezone(&chart.timezone).format("%Y-%m-%d").to_string(),
        form: AddForm::default(),
        stop_reasons: STOP_REASONS,
    })
}

/// The audit purpose of this section's answers.
const PURPOSE: &str = "chart.medications";

fn event(chart: &Chart, action: Action) -> AuditEvent {
    chart.event(action, PURPOSE)
}

fn page(chart: &Chart, section: MedicationsSection) -> Page {
    Framed(chart.frame(super::SECTION), section)
}

/// A refusal: the section again (its read on record) with what was wrong, as 422.
async fn refused(tx: &TenantTx, chart: &Chart, section: MedicationsSection) -> AppResult<Response> {
    chart.refused(tx, super::SECTION, PURPOSE, section).await
}

pub async fn section(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page> {
    let chart = chart::open(&tx, &id, Permission::ViewClinicalSummary).await?;
    let section = render(&tx, &chart, None).await?;
    tx.audit(&event(&chart, Action::Read)).await?;
    Ok(page(&chart, section))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct NewMedicationForm {
    name: String,
    dose: String,
    frequency: String,
    started_on: String,
    prescriber: String,
}

fn optional(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| !t.is_empty())
}

pub async fn add(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    let form: NewMedicationForm = parse_form(&body)?;
    let today = tx.now().with_timezone(&chart.timezone).date_naive();
    let mut problems = check(&form.name, &form.dose, &form.frequency, &form.prescriber);
    let started = past_day(&form.started_on, today);
    let name = form.name.trim();
    if !problems.any() && repo::is_current(&mut *tx.conn().await?, chart.id(), name).await? {
        problems.name =
            Some("This medication is already on the current list; stop it first to record a change of dose.");
    }
    let started_on = match started {
        Ok(day) if !problems.any() => day,
        started => {
            let mut section = render(&tx, &chart, None).await?;
            section.form = AddForm {
                name_error: problems.name,
                dose_error: problems.dose,
                frequency_error: problems.frequency,
                prescriber_error: problems.prescriber,
                started_error: started.err(),
                name: form.name,
                dose: form.dose,
                frequency: form.frequency,
                started_on: form.started_on,
                prescriber: form.prescriber,
            };
            return refused(&tx, &chart, section).await;
        }
    };
    let new = repo::NewMedication {
        clinic: tx.context().tenant.organization_id,
        patient: chart.id(),
        name,
        dose: optional(&form.dose),
        frequency: optional(&form.frequency),
        started_on,
        prescriber: optional(&form.prescriber),
        by: tx.context().tenant.person(),
    };
    let medication = repo::add(&mut *tx.conn().await?, &new).await?;
    tx.audit(&event(&chart, Action::Create).details(json!({ "medication_id": medication.to_string() })))
        .await?;
    let section = render(&tx, &chart, Some(format!("{name} added to the medications."))).await?;
    Ok(page(&chart, section).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct StopForm {
    stopped_on: String,
    reason: String,
    detail: String,
}

pub async fn stop(
    tx: TenantTx,
    Path((id, medication_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    let medication: MedicationId = medication_id.parse().map_err(|_| AppError::NotFound)?;
    let form: StopForm = parse_form(&body)?;
    let today = tx.now().with_timezone(&chart.timezone).date_naive();
    let checked = past_day(&form.stopped_on, today)
        .map_err(|message| format!("Stopped on: {message}"))
        .and_then(|day| Ok((day.unwrap_or(today), stop_reason(&form.reason, &form.detail)?)));
    let (day, reason) = match checked {
        Ok(checked) => checked,
        // Another patient's (or no) medication is not found, whatever the form said.
        Err(_) if !repo::is_current_entry(&mut *tx.conn().await?, chart.id(), medication).await? => {
            return Err(tx.not_found("medication", medication.as_uuid()).await);
        }
        Err(message) => {
            let mut section = render(&tx, &chart, None).await?;
            section.error = Some(message);
            return refused(&tx, &chart, section).await;
        }
    };
    let by = tx.context().tenant.person();
    let Some(name) = repo::stop(&mut *tx.conn().await?, chart.id(), medication, day, by, &reason).await?
    else {
        return Err(tx.not_found("medication", medication.as_uuid()).await);
    };
    tx.audit(&event(&chart, Action::Update).details(json!({
        "medication_id": medication.to_string(),
        "stopped": form.reason,
    })))
    .await?;
    let section = render(&tx, &chart, Some(format!("{name} stopped on {day}."))).await?;
    Ok(page(&chart, section).into_response())
}
