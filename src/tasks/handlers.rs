use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};

use super::repo;
use super::views::{TaskRow, TasksPage};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::policy::{Permission, Target};
use crate::db::ids::StaffTaskId;
use crate::web::{AppError, AppResult, Page, TenantTx};

/// `GET /tasks`: the open tasks of the shared queue and the person's own, oldest first
/// (they waited longest).
pub async fn list(tx: TenantTx) -> AppResult<Page<TasksPage>> {
    tx.authorize(Permission::EditContactSafety, Target::Organization, "staff_task").await?;
    let zone = tx.context().timezone;
    let rows = repo::open(&mut *tx.conn().await?, tx.context().tenant.person()).await?;
    // A list naming patients: one read event for the list, saying whose.
    let mut event = AuditEvent::new(Action::Read, Outcome::Success).purpose("tasks");
    event.resource_type = Some("staff_task");
    let shown = crate::audit::shown_patients(rows.iter().map(|r| r.patient_id));
    event.details = serde_json::json!({ "count": rows.len(), "patient_ids": shown });
    tx.audit(&event).await?;
    Ok(Page(TasksPage {
        tasks: rows
            .into_iter()
            .map(|r| TaskRow {
                id: r.id.to_string(),
                patient_id: r.patient_id.to_string(),
                section: if r.kind == "care_team_changed" { "care-team" } else { "contacts" },
                patient: format!("{} {}", r.given_name, r.family_name),
                mrn: r.mrn,
                summary: r.summary,
                raised: r.created_at.with_timezone(&zone).format("%b %-d, %H:%M").to_string(),
            })
            .collect(),
    }))
}

/// `POST /tasks/{id}/done`.
pub async fn done(tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    tx.authorize(Permission::EditContactSafety, Target::Organization, "staff_task").await?;
    let id: StaffTaskId = id.parse().map_err(|_| AppError::NotFound)?;
    let patient = repo::mark_done(&mut *tx.conn().await?, id, tx.context().tenant.person(), tx.now())
        .await?
        .ok_or(AppError::NotFound)?;
    tx.audit(&AuditEvent::success(Action::Update, "staff_task", id).patient(patient).purpose("tasks"))
        .await?;
    Ok(Redirect::to("/tasks").into_response())
}
