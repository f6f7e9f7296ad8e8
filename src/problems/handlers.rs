use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::domain::{Code, description, parse_code, system_label};
use super::repo;
use super::views::{AddForm, ProblemRow, ProblemsSection};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::Permission;
use crate::chart::{self, Chart, ChartFrame, past_day};
use crate::db::ids::ProblemId;
use crate::web::{AppError, AppResult, Framed, TenantTx, parse_form};

type Page = Framed<ChartFrame, ProblemsSection>;

async fn render(tx: &TenantTx, chart: &Chart, notice: Option<String>) -> AppResult<ProblemsSection> {
    let problems = repo::list(&mut *tx.conn().await?, chart.id()).await?;
    let day =
        |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&chart.timezone).format("%Y-%m-%d").to_string();
    let (active, resolved): (Vec<_>, Vec<_>) = problems
        .into_iter()
        .map(|p| ProblemRow {
            id: p.id.to_string(),
            code: p
                .code
                .map(|code| format!("{} {code}", system_label(p.code_system.as_deref().unwrap_or("")))),
            description: p.description,
            onset: p.onset_on.map(|d| d.format("%Y-%m-%d").to_string()),
            resolved: p.resolved_on.map(|d| d.format("%Y-%m-%d").to_string()),
            recorded: match p.recorded_by {
                Some(by) => format!("{} by {by}", day(p.recorded_at)),
                None => day(p.recorded_at),
            },
        })
        .partition(|p| p.resolved.is_none());
    Ok(ProblemsSection {
        patient_id: chart.id().to_string(),
        notice,
        error: None,
        active,
        resolved,
        can_record: chart.allows(tx, Permission::RecordClinicalSummary),
        today: tx.now().with_timezone(&chart.timezone).format("%Y-%m-%d").to_string(),
        form: AddForm::default(),
    })
}

/// The audit purpose of this section's answers.
const PURPOSE: &str = "chart.problems";

fn event(chart: &Chart, action: Action) -> AuditEvent {
    chart.event(action, PURPOSE)
}

fn page(chart: &Chart, section: ProblemsSection) -> Page {
    Framed(chart.frame(super::SECTION), section)
}

/// A refusal: the section again (its read on record) with what was wrong, as 422.
async fn refused(tx: &TenantTx, chart: &Chart, section: ProblemsSection) -> AppResult<Response> {
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
pub(crate) struct NewProblemForm {
    description: String,
    code: String,
    onset_on: String,
}

pub async fn add(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    let form: NewProblemForm = parse_form(&body)?;
    let today = tx.now().with_timezone(&chart.timezone).date_naive();
    let checked_description = description(&form.description);
    let code = parse_code(&form.code);
    let onset = past_day(&form.onset_on, today);
    let (Ok(text), Ok(code), Ok(onset)) = (checked_description, code.clone(), onset) else {
        let mut section = render(&tx, &chart, None).await?;
        section.form = AddForm {
            description_error: checked_description.err(),
            code_error: code.err(),
            onset_error: onset.err(),
            description: form.description,
            code: form.code,
            onset_on: form.onset_on,
        };
        return refused(&tx, &chart, section).await;
    };
    if repo::has_active(&mut *tx.conn().await?, chart.id(), text, code.as_ref().map(|c| c.value())).await? {
        let mut section = render(&tx, &chart, None).await?;
        section.form = AddForm {
            description_error: Some("This problem is already on the active list."),
            description: form.description.clone(),
            code: form.code.clone(),
            onset_on: form.onset_on.clone(),
            ..AddForm::default()
        };
        return refused(&tx, &chart, section).await;
    }
    let new = repo::NewProblem {
        clinic: tx.context().tenant.organization_id,
        patient: chart.id(),
        description: text,
        code: code.as_ref().map(|c| (c.system(), c.value())),
        onset_on: onset,
        by: tx.context().tenant.person(),
    };
    let problem = repo::add(&mut *tx.conn().await?, &new).await?;
    tx.audit(&event(&chart, Action::Create).details(json!({
        "problem_id": problem.to_string(),
        "coded": code.as_ref().map(Code::system),
    })))
    .await?;
    let section = render(&tx, &chart, Some(format!("{text} added to the problem list."))).await?;
    Ok(page(&chart, section).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct ResolveForm {
    resolved_on: String,
}

pub async fn resolve(
    tx: TenantTx,
    Path((id, problem_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    let problem: ProblemId = problem_id.parse().map_err(|_| AppError::NotFound)?;
    let form: ResolveForm = parse_form(&body)?;
    let today = tx.now().with_timezone(&chart.timezone).date_naive();
    let day = match past_day(&form.resolved_on, today) {
        Ok(day) => day.unwrap_or(today),
        // Another patient's (or no) problem is not found, whatever the form said.
        Err(_) if !repo::is_active(&mut *tx.conn().await?, chart.id(), problem).await? => {
            return Err(tx.not_found("problem", problem.as_uuid()).await);
        }
        Err(message) => {
            let mut section = render(&tx, &chart, None).await?;
            section.error = Some(format!("Resolved on: {message}"));
            return refused(&tx, &chart, section).await;
        }
    };
    let Some(text) = repo::resolve(&mut *tx.conn().await?, chart.id(), problem, day).await? else {
        return Err(tx.not_found("problem", problem.as_uuid()).await);
    };
    tx.audit(&event(&chart, Action::Update).details(json!({
        "problem_id": problem.to_string(),
        "resolved_on": day.to_string(),
    })))
    .await?;
    let section = render(&tx, &chart, Some(format!("{text}: resolved on {day}."))).await?;
    Ok(page(&chart, section).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct ErrorForm {
    detail: String,
}

pub async fn entered_in_error(
    tx: TenantTx,
    Path((id, problem_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    let problem: ProblemId = problem_id.parse().map_err(|_| AppError::NotFound)?;
    let form: ErrorForm = parse_form(&body)?;
    let detail = form.detail.trim();
    if detail.chars().count() > 250 {
        let mut section = render(&tx, &chart, None).await?;
        section.error = Some("Keep the note under 250 characters.".to_owned());
        return refused(&tx, &chart, section).await;
    }
    let reason =
        if detail.is_empty() { "Entered in error".to_owned() } else { format!("Entered in error: {detail}") };
    let by = tx.context().tenant.person();
    let Some(text) = repo::end(&mut *tx.conn().await?, chart.id(), problem, tx.now(), by, &reason).await?
    else {
        return Err(tx.not_found("problem", problem.as_uuid()).await);
    };
    tx.audit(&event(&chart, Action::Update).details(json!({
        "problem_id": problem.to_string(),
        "entered_in_error": true,
    })))
    .await?;
    let section =
        render(&tx, &chart, Some(format!("{text} removed from the list (entered in error)."))).await?;
    Ok(page(&chart, section).into_response())
}
