use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{PatientId, StaffTaskId, UserId};

pub(crate) struct OpenTask {
    pub id: StaffTaskId,
    pub patient_id: PatientId,
    pub kind: String,
    pub summary: String,
    pub created_at: DateTime<Utc>,
    pub given_name: String,
    pub family_name: String,
    pub mrn: String,
}

/// The open tasks of the shared queue and `user`'s own, oldest first (they waited longest).
pub async fn open(db: &mut PgConnection, user: Option<UserId>) -> Result<Vec<OpenTask>, sqlx::Error> {
    sqlx::query_as!(
        OpenTask,
        r#"SELECT t.id AS "id: StaffTaskId", t.patient_id AS "patient_id: PatientId", t.kind, t.summary, t.created_at,
                  p.given_name, p.family_name, p.mrn
             FROM staff_tasks t JOIN patients p ON p.id = t.patient_id
            WHERE t.done_at IS NULL AND (t.assigned_user_id IS NULL OR t.assigned_user_id = $1)
            ORDER BY t.created_at, t.id LIMIT 200"#,
        user.map(|u| u.as_uuid())
    )
    .fetch_all(db)
    .await
}

/// Marks an open task done, if it is `user`'s to close (shared, or assigned to them):
/// the patient it was about.
pub async fn mark_done(
    db: &mut PgConnection,
    id: StaffTaskId,
    user: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<Option<PatientId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE staff_tasks SET done_at = $2, done_by = $3
            WHERE id = $1 AND done_at IS NULL AND (assigned_user_id IS NULL OR assigned_user_id = $3)
           RETURNING patient_id AS "patient_id: PatientId""#,
        id.as_uuid(),
        now,
        user.map(|u| u.as_uuid())
    )
    .fetch_optional(db)
    .await
}
