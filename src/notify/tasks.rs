//! Work for people: the task lists. A task names a patient and says what happened or what
//! to do, in words the list may show to whoever reads it (never a note, never a visit's
//! reason). A task without an assignee is the shared queue's (the front desk works it); an
//! assigned one is that person's alone.

use sqlx::PgConnection;

use crate::db::ids::{NotificationId, PatientId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskKind {
    /// A message the gate would not send: someone must reach the patient another way.
    MessageBlocked,
    /// The patient's care team changed (a primary provider replaced or removed): the
    /// people it concerns are told.
    CareTeamChanged,
}

impl TaskKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::MessageBlocked => "message_blocked",
            Self::CareTeamChanged => "care_team_changed",
        }
    }
}

/// A task to raise.
pub(crate) struct NewTask<'a> {
    pub patient: PatientId,
    pub kind: TaskKind,
    /// At most 300 characters are kept.
    pub summary: &'a str,
    pub notification: Option<NotificationId>,
    pub assignee: Option<UserId>,
}

/// Raises `task` in the caller's (tenant) transaction.
pub(crate) async fn raise(conn: &mut PgConnection, task: &NewTask<'_>) -> Result<(), sqlx::Error> {
    let summary: String = task.summary.chars().take(300).collect();
    sqlx::query!(
        "INSERT INTO staff_tasks (organization_id, patient_id, kind, notification_id, summary, assigned_user_id)
         VALUES (nullif(current_setting('app.organization_id', true), '')::uuid, $1, $2, $3, $4, $5)",
        task.patient.as_uuid(),
        task.kind.as_str(),
        task.notification.map(|n| n.as_uuid()),
        summary,
        task.assignee.map(|u| u.as_uuid())
    )
    .execute(conn)
    .await?;
    Ok(())
}
