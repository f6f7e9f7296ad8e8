use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{JobId, OrganizationId};

/// The queue of one clinic (or of the platform: `organization_id` NULL).
pub(crate) struct QueueRow {
    pub clinic: Option<String>,
    pub clinic_status: Option<String>,
    pub ready: i64,
    pub scheduled: i64,
    pub running: i64,
    pub dead: i64,
    /// Seconds the oldest due job has waited.
    pub lag_seconds: f64,
}

/// Jobs not yet done, and dead ones, per clinic. Platform work sees every clinic's jobs.
pub async fn queue_by_clinic(
    db: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<Vec<QueueRow>, sqlx::Error> {
    sqlx::query_as!(
        QueueRow,
        r#"SELECT o.name AS "clinic?",
                  o.status AS "clinic_status?",
                  count(*) FILTER (WHERE j.state = 'queued' AND j.run_at <= $1) AS "ready!",
                  count(*) FILTER (WHERE j.state = 'queued' AND j.run_at > $1) AS "scheduled!",
                  count(*) FILTER (WHERE j.state = 'running') AS "running!",
                  count(*) FILTER (WHERE j.state = 'dead') AS "dead!",
                  coalesce(extract(epoch FROM $1 - min(j.run_at) FILTER (WHERE j.state = 'queued' AND j.run_at <= $1)), 0)::float8 AS "lag_seconds!"
             FROM jobs j LEFT JOIN organizations o ON o.id = j.organization_id
            WHERE j.state IN ('queued', 'running', 'dead')
            GROUP BY j.organization_id, o.name, o.status
            ORDER BY j.organization_id IS NOT NULL, lower(o.name), j.organization_id"#,
        now
    )
    .fetch_all(db)
    .await
}

/// A job that used up its attempts (or failed for good).
pub(crate) struct DeadJob {
    pub id: JobId,
    pub kind: String,
    pub clinic: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub finished_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// The most recent dead jobs first.
pub async fn dead_jobs(db: &mut PgConnection, limit: i64) -> Result<Vec<DeadJob>, sqlx::Error> {
    sqlx::query_as!(
        DeadJob,
        r#"SELECT j.id AS "id: JobId", j.kind, o.name AS "clinic?", j.attempts, j.max_attempts, j.finished_at,
                  j.last_error
             FROM jobs j LEFT JOIN organizations o ON o.id = j.organization_id
            WHERE j.state = 'dead'
            ORDER BY j.finished_at DESC NULLS LAST, j.id DESC LIMIT $1"#,
        limit
    )
    .fetch_all(db)
    .await
}

/// The kind of dead job `id`, when it is one.
pub async fn dead_job_kind(db: &mut PgConnection, id: JobId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT kind FROM jobs WHERE id = $1 AND state = 'dead'", id.as_uuid())
        .fetch_optional(db)
        .await
}

/// One audit chain's sealing and last verification (`platform_audit_health`).
pub(crate) struct ChainHealth {
    pub organization_id: Option<OrganizationId>,
    pub sealed: i64,
    pub last_sealed_at: Option<DateTime<Utc>>,
    pub unsealed: i64,
    pub oldest_unsealed: Option<DateTime<Utc>>,
    pub verified_at: Option<DateTime<Utc>>,
    pub verified_sealed: Option<i64>,
    pub verification_problem: Option<String>,
}

/// Every chain, the platform's first; refused by the database (42501) unless the caller
/// holds a platform role.
pub async fn chains(db: &mut PgConnection) -> Result<Vec<ChainHealth>, sqlx::Error> {
    sqlx::query_as!(
        ChainHealth,
        r#"SELECT organization_id AS "organization_id: OrganizationId", sealed AS "sealed!", last_sealed_at,
                  unsealed AS "unsealed!", oldest_unsealed, verified_at, verified_sealed, verification_problem
             FROM platform_audit_health()"#
    )
    .fetch_all(db)
    .await
}

/// Every clinic's name, for the chains' table.
pub async fn clinic_names(db: &mut PgConnection) -> Result<Vec<(OrganizationId, String)>, sqlx::Error> {
    Ok(sqlx::query!(r#"SELECT id AS "id: OrganizationId", name FROM organizations WHERE deleted_at IS NULL"#)
        .fetch_all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect())
}
