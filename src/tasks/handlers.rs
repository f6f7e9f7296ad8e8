use askama::Template;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};

use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{Permission, Target};
use crate::db::ids::{PatientId, StaffTaskId};
use crate::web::{AppError, AppResult, Page, TenantTx};

pub(crate) struct TaskRow {
    pub id: String,
    pub patient_id: String,
    /// The chart section the task is about.
    pub section: &'static str,
    pub patient: String,
    pub mrn: String,
    pub summary: String,
    pub raised: String,
}

#[derive(Template)]
#[template(path = "tasks/list.html")]
pub(crate) struct TasksPage {
    pub tasks: Vec<TaskRow>,
}

/// `GET /tasks`: the open tasks of the shared queue and the person's own, oldest first
/// (they waited longest).
pub async fn list(tx: TenantTx) -> AppResult<Page<TasksPage>> {
    tx.authorize(Permission::EditContactSafety, Target::Organization, "staff_task").await?;
    let zone = tx.context().timezone;
    let rows = sqlx::query!(
        r#"SELECT t.id AS "id: StaffTaskId", t.patient_id AS "patient_id: PatientId", t.kind, t.summary, t.created_at,
                  p.given_name, p.family_name, p.mrn
             FROM staff_tasks t JOIN patients p ON p.id = t.patient_id
            WHERE t.done_at IS NULL AND (t.assigned_user_id IS NULL OR t.assigned_user_id = $1)
            ORDER BY t.created_at, t.id LIMIT 200"#,
        tx.context().tenant.user_id.map(|u| u.as_uuid())
    )
    .fetch_all(&mut *tx.conn().await?)
    .await?;
    // A list naming patients: one read event for the list, saying whose.
    let mut event = AuditEvent::new(Action::Read, crate::audit::Outcome::Success).purpose("tasks");
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
                raised: r.created_at.with_timezone(&zone).format("%b %-d, %-I:%M %p").to_string(),
            })
            .collect(),
    }))
}

/// `POST /tasks/{id}/done`.
pub async fn done(tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    tx.authorize(Permission::EditContactSafety, Target::Organization, "staff_task").await?;
    let id: StaffTaskId = id.parse().map_err(|_| AppError::NotFound)?;
    let user = tx.context().tenant.user_id;
    let patient = sqlx::query_scalar!(
        r#"UPDATE staff_tasks SET done_at = $2, done_by = $3
            WHERE id = $1 AND done_at IS NULL AND (assigned_user_id IS NULL OR assigned_user_id = $3)
           RETURNING patient_id AS "patient_id: PatientId""#,
        id.as_uuid(),
        tx.now(),
        user.map(|u| u.as_uuid())
    )
    .fetch_optional(&mut *tx.conn().await?)
    .await?
    .ok_or(AppError::NotFound)?;
    tx.audit(&AuditEvent::success(Action::Update, "staff_task", id).patient(patient).purpose("tasks"))
        .await?;
    Ok(Redirect::to("/tasks").into_response())
}
