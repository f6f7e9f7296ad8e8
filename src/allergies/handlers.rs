use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::domain::{END_REASONS, SEVERITIES, check, end_reason, severity_label};
use super::repo;
use super::views::{AddForm, AllergiesSection, AllergyRow, EndedRow};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::Permission;
use crate::chart::{self, Chart, ChartFrame};
use crate::db::ids::AllergyId;
use crate::web::{AppError, AppResult, Framed, TenantTx, parse_form};

type Page = Framed<ChartFrame, AllergiesSection>;

async fn render(tx: &TenantTx, chart: &Chart, notice: Option<String>) -> AppResult<AllergiesSection> {
    let mut db = tx.conn().await?;
    let current = repo::current(&mut db, chart.id()).await?;
    let ended = repo::ended(&mut db, chart.id()).await?;
    let none_known = repo::none_known(&mut db, chart.id()).await?;
    let day =
        |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&chart.timezone).format("%Y-%m-%d").to_string();
    Ok(AllergiesSection {
        patient_id: chart.id().to_string(),
        notice,
        error: None,
        allergies: current
            .into_iter()
            .map(|a| AllergyRow {
                id: a.id.to_string(),
                severe: a.severity == "severe",
                severity: severity_label(&a.severity),
                substance: a.substance,
                reaction: a.reaction,
                recorded: match a.recorded_by {
                    Some(by) => format!("{} by {by}", day(a.recorded_at)),
                    None => day(a.recorded_at),
                },
            })
            .collect(),
        ended: ended
            .into_iter()
            .map(|e| EndedRow {
                substance: e.substance,
                ended: day(e.ended_at),
                reason: e.ended_reason.unwrap_or_default(),
            })
            .collect(),
        none_known: none_known.map(|(at, by)| match by {
            Some(by) => format!("{} by {by}", day(at)),
            None => day(at),
        }),
        can_record: chart.allows(tx, Permission::RecordClinicalSummary),
        form: AddForm::default(),
        severities: SEVERITIES,
        end_reasons: END_REASONS,
    })
}

/// The audit purpose of this section's answers.
const PURPOSE: &str = "chart.allergies";

fn event(chart: &Chart, action: Action) -> AuditEvent {
    chart.event(action, PURPOSE)
}

fn page(chart: &Chart, section: AllergiesSection) -> Page {
    Framed(chart.frame(super::SECTION), section)
}

/// A refusal: the section again (its read on record) with what was wrong, as 422.
async fn refused(tx: &TenantTx, chart: &Chart, section: AllergiesSection) -> AppResult<Response> {
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
pub(crate) struct NewAllergyForm {
    substance: String,
    reaction: String,
    severity: String,
}

pub async fn add(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    let form: NewAllergyForm = parse_form(&body)?;
    let mut problems = check(&form.substance, &form.reaction, &form.severity);
    let substance = form.substance.trim();
    if !problems.any() && repo::has_current(&mut *tx.conn().await?, chart.id(), substance).await? {
        problems.substance = Some("This allergy is already on the list.");
    }
    if problems.any() {
        let mut section = render(&tx, &chart, None).await?;
        section.form = AddForm {
            substance_error: problems.substance,
            reaction_error: problems.reaction,
            severity_error: problems.severity,
            substance: form.substance,
            reaction: form.reaction,
            severity: form.severity,
        };
        return refused(&tx, &chart, section).await;
    }
    let reaction = Some(form.reaction.trim()).filter(|r| !r.is_empty());
    let new = repo::NewAllergy {
        clinic: tx.context().tenant.organization_id,
        patient: chart.id(),
        substance,
        reaction,
        severity: &form.severity,
        by: tx.context().tenant.person(),
    };
    let allergy = repo::add(&mut *tx.conn().await?, &new).await?;
    tx.audit(&event(&chart, Action::Create).details(json!({
        "allergy_id": allergy.to_string(),
        "severity": form.severity,
    })))
    .await?;
    let section = render(&tx, &chart, Some(format!("{substance} added to the allergies."))).await?;
    // The header lists allergies too: the whole frame is answered, so it shows the new one.
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    Ok(page(&chart, section).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct EndForm {
    reason: String,
    detail: String,
}

pub async fn end(
    tx: TenantTx,
    Path((id, allergy_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    let allergy: AllergyId = allergy_id.parse().map_err(|_| AppError::NotFound)?;
    let form: EndForm = parse_form(&body)?;
    let reason = match end_reason(&form.reason, &form.detail) {
        Ok(reason) => reason,
        // Another patient's (or no) allergy is not found, whatever the form said.
        Err(_) if !repo::is_current(&mut *tx.conn().await?, chart.id(), allergy).await? => {
            return Err(tx.not_found("allergy", allergy.as_uuid()).await);
        }
        Err(message) => {
            let mut section = render(&tx, &chart, None).await?;
            section.error = Some(message.to_owned());
            return refused(&tx, &chart, section).await;
        }
    };
    let by = tx.context().tenant.person();
    let ended = repo::end(&mut *tx.conn().await?, chart.id(), allergy, tx.now(), by, &reason).await?;
    let Some(substance) = ended else { return Err(tx.not_found("allergy", allergy.as_uuid()).await) };
    tx.audit(&event(&chart, Action::Update).details(json!({
        "allergy_id": allergy.to_string(),
        "ended": form.reason,
    })))
    .await?;
    let section =
        render(&tx, &chart, Some(format!("{substance} is no longer on the list ({reason})."))).await?;
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    Ok(page(&chart, section).into_response())
}

pub async fn none_known(tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    let by = tx.context().tenant.person();
    if !repo::state_none_known(&mut *tx.conn().await?, chart.id(), tx.now(), by).await? {
        let mut section = render(&tx, &chart, None).await?;
        section.error = Some(
            "Allergies are on the list. End each one that no longer applies before stating no known allergies."
                .to_owned(),
        );
        return refused(&tx, &chart, section).await;
    }
    tx.audit(&event(&chart, Action::Update).details(json!({ "no_known_allergies": true }))).await?;
    let section = render(&tx, &chart, Some("Recorded: no known allergies.".to_owned())).await?;
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    Ok(page(&chart, section).into_response())
}
