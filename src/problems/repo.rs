use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::db::ids::{OrganizationId, PatientId, ProblemId, UserId};

pub(crate) struct Problem {
    pub id: ProblemId,
    pub description: String,
    pub code_system: Option<String>,
    pub code: Option<String>,
    pub onset_on: Option<NaiveDate>,
    pub resolved_on: Option<NaiveDate>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: Option<String>,
}

/// Every problem not entered in error: the active first, then the resolved (latest
/// first).
pub async fn list(db: &mut PgConnection, patient: PatientId) -> Result<Vec<Problem>, sqlx::Error> {
    sqlx::query_as!(
        Problem,
        r#"SELECT p.id AS "id: ProblemId", p.description, p.code_system, p.code, p.onset_on, p.resolved_on,
                  p.recorded_at, u.display_name AS "recorded_by?"
             FROM problems p LEFT JOIN users u ON u.id = p.recorded_by
            WHERE p.patient_id = $1 AND p.ended_at IS NULL
            ORDER BY p.resolved_on IS NOT NULL, p.resolved_on DESC, p.recorded_at DESC"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

pub(crate) struct NewProblem<'a> {
    pub clinic: OrganizationId,
    pub patient: PatientId,
    pub description: &'a str,
    pub code: Option<(&'static str, &'a str)>,
    pub onset_on: Option<NaiveDate>,
    pub by: Option<UserId>,
}

pub async fn add(db: &mut PgConnection, new: &NewProblem<'_>) -> Result<ProblemId, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO problems (organization_id, patient_id, description, code_system, code, onset_on, recorded_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id AS "id: ProblemId""#,
        new.clinic.as_uuid(),
        new.patient.as_uuid(),
        new.description,
        new.code.map(|(system, _)| system),
        new.code.map(|(_, code)| code),
        new.onset_on,
        new.by.map(|u| u.as_uuid())
    )
    .fetch_one(db)
    .await
}

/// Whether an active problem of the patient has this description or code already.
pub async fn has_active(
    db: &mut PgConnection,
    patient: PatientId,
    description: &str,
    code: Option<&str>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM problems WHERE patient_id = $1 AND ended_at IS NULL AND resolved_on IS NULL
                            AND (lower(description) = lower($2) OR code = $3)) AS "exists!""#,
        patient.as_uuid(),
        description,
        code
    )
    .fetch_one(db)
    .await
}

/// Marks an active problem resolved on `day`; its description, or `None` when there is
/// no such active problem (or it started after `day`).
pub async fn resolve(
    db: &mut PgConnection,
    patient: PatientId,
    problem: ProblemId,
    day: NaiveDate,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE problems SET resolved_on = $3
          WHERE id = $1 AND patient_id = $2 AND ended_at IS NULL AND resolved_on IS NULL
            AND (onset_on IS NULL OR onset_on <= $3)
          RETURNING description",
        problem.as_uuid(),
        patient.as_uuid(),
        day
    )
    .fetch_optional(db)
    .await
}

/// Ends a problem as entered in error; its description, or `None` when there is none.
pub async fn end(
    db: &mut PgConnection,
    patient: PatientId,
    problem: ProblemId,
    at: DateTime<Utc>,
    by: Option<UserId>,
    reason: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE problems SET ended_at = $3, ended_by = $4, ended_reason = $5
          WHERE id = $1 AND patient_id = $2 AND ended_at IS NULL
          RETURNING description",
        problem.as_uuid(),
        patient.as_uuid(),
        at,
        by.map(|u| u.as_uuid()),
        reason
    )
    .fetch_optional(db)
    .await
}

/// Whether `problem` is an active problem of `patient`.
pub async fn is_active(
    db: &mut PgConnection,
    patient: PatientId,
    problem: ProblemId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM problems WHERE id = $1 AND patient_id = $2
                            AND ended_at IS NULL AND resolved_on IS NULL) AS "exists!""#,
        problem.as_uuid(),
        patient.as_uuid()
    )
    .fetch_one(db)
    .await
}
