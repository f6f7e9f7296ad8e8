//! The queue's SQL: enqueue inside the caller's transaction, claim with `FOR UPDATE SKIP
//! LOCKED` plus a lease, and finish under a fence (the claim token), so a worker whose
//! lease ran out can never finish a job another worker has taken over.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng as _;
use serde::Serialize;
use sqlx::PgConnection;

use crate::db::ids::{JobId, OrganizationId};

/// A job to queue. Payloads hold identifiers, never patient data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: &'static str,
    pub organization_id: Option<OrganizationId>,
    pub payload: serde_json::Value,
    pub idempotency_key: Option<String>,
    pub run_at: Option<DateTime<Utc>>,
    pub max_attempts: i32,
}

impl NewJob {
    pub fn new(kind: &'static str, payload: impl Serialize) -> Self {
        Self {
            kind,
            organization_id: None,
            payload: serde_json::to_value(payload).unwrap_or_else(|_| serde_json::json!({})),
            idempotency_key: None,
            run_at: None,
            max_attempts: 8,
        }
    }

    /// Runs in this clinic's context.
    pub fn for_organization(mut self, organization: OrganizationId) -> Self {
        self.organization_id = Some(organization);
        self
    }

    /// At most one job of this kind with this key, ever (while the row is kept).
    pub(crate) fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    pub fn max_attempts(mut self, attempts: i32) -> Self {
        self.max_attempts = attempts.clamp(1, 100);
        self
    }
}

/// Queues `job` in the caller's transaction: it exists only if that transaction commits,
/// and workers are woken at commit. `None` when a job with the same idempotency key exists.
pub async fn enqueue(
    conn: &mut PgConnection,
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<Option<JobId>, sqlx::Error> {
    // The id is made here, not returned by the insert: a clinic's transaction may queue
    // platform work (an account e-mail) that its row-level security does not let it read.
    let id = JobId::new();
    let org = job.organization_id.map(|o| o.as_uuid());
    let run_at = job.run_at.unwrap_or(now);
    // ON CONFLICT makes PostgreSQL check the row against the read policy as well, which a
    // clinic queuing platform work would fail; so only keyed jobs use it.
    let inserted = match &job.idempotency_key {
        Some(key) => sqlx::query!(
            r#"INSERT INTO jobs (id, organization_id, kind, payload, idempotency_key, run_at, max_attempts, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"#,
            id.as_uuid(),
            org,
            job.kind,
            job.payload,
            key,
            run_at,
            job.max_attempts,
            now
        )
        .execute(conn)
        .await?
        .rows_affected(),
        None => sqlx::query!(
            r#"INSERT INTO jobs (id, organization_id, kind, payload, run_at, max_attempts, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
            id.as_uuid(),
            org,
            job.kind,
            job.payload,
            run_at,
            job.max_attempts,
            now
        )
        .execute(conn)
        .await?
        .rows_affected(),
    };
    Ok((inserted == 1).then_some(id))
}

/// A claimed job, held under a lease until `lease_until`.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub organization_id: Option<OrganizationId>,
    pub kind: String,
    pub payload: serde_json::Value,
    /// This attempt's number, from 1.
    pub attempt: i32,
    pub max_attempts: i32,
    /// The fence: finishing requires the row to still carry it.
    pub claim: String,
    pub lease_until: DateTime<Utc>,
}

impl Job {
    /// The payload as `T`; a payload that does not fit is a permanent failure.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, super::JobError> {
        serde_json::from_value(self.payload.clone()).map_err(|e| super::JobError::Permanent(e.to_string()))
    }

    /// The clinic a clinic-scoped job runs for; its absence is a permanent failure.
    pub fn organization(&self) -> Result<OrganizationId, super::JobError> {
        self.organization_id
            .ok_or_else(|| super::JobError::Permanent(format!("a {} job needs its clinic", self.kind)))
    }
}

/// Claims up to `limit` due jobs (queued and due, or running with an expired lease) for
/// `worker`, in one short statement. Each gets a fresh claim token.
pub async fn claim(
    conn: &mut PgConnection,
    worker: &str,
    limit: i64,
    now: DateTime<Utc>,
    lease: TimeDelta,
) -> Result<Vec<Job>, sqlx::Error> {
    let lease_until = now + lease;
    let rows = sqlx::query!(
        r#"WITH due AS (
               SELECT id FROM jobs
                WHERE state IN ('queued', 'running') AND run_at <= $1
                  -- A suspended clinic's jobs wait for it to be restored.
                  AND (organization_id IS NULL
                       OR NOT EXISTS (SELECT 1 FROM organizations o
                                       WHERE o.id = jobs.organization_id AND o.status <> 'active'))
                ORDER BY run_at
                LIMIT $2
                FOR UPDATE SKIP LOCKED)
           UPDATE jobs j
              SET state = 'running', attempts = j.attempts + 1, run_at = $3, locked_until = $3,
                  locked_by = $4 || ':' || new_ulid()::text, started_at = coalesce(j.started_at, $1)
             FROM due WHERE j.id = due.id
           RETURNING j.id AS "id: JobId", j.organization_id AS "organization_id: OrganizationId",
                     j.kind, j.payload, j.attempts, j.max_attempts, j.locked_by AS "claim!""#,
        now,
        limit,
        lease_until,
        worker
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Job {
            id: r.id,
            organization_id: r.organization_id,
            kind: r.kind,
            payload: r.payload,
            attempt: r.attempts,
            max_attempts: r.max_attempts,
            claim: r.claim,
            lease_until,
        })
        .collect())
}

/// The fence was gone: another worker holds the job now (our lease ran out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the job's lease was lost to another worker")]
pub struct LeaseLost;

#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    #[error(transparent)]
    LeaseLost(#[from] LeaseLost),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn fenced(rows: u64) -> Result<(), FinishError> {
    if rows == 1 { Ok(()) } else { Err(LeaseLost.into()) }
}

/// Marks the job done, in the transaction that did its work.
pub async fn complete(conn: &mut PgConnection, job: &Job, now: DateTime<Utc>) -> Result<(), FinishError> {
    let rows = sqlx::query!(
        "UPDATE jobs SET state = 'done', finished_at = $3, locked_by = NULL, locked_until = NULL, last_error = NULL
          WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        job.id.as_uuid(),
        job.claim,
        now
    )
    .execute(conn)
    .await?
    .rows_affected();
    fenced(rows)
}

/// Completes many claimed jobs in one statement (batched work); returns those whose fence held.
pub(crate) async fn complete_many(
    conn: &mut PgConnection,
    jobs: &[&Job],
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let ids: Vec<uuid::Uuid> = jobs.iter().map(|j| j.id.as_uuid()).collect();
    let claims: Vec<String> = jobs.iter().map(|j| j.claim.clone()).collect();
    Ok(sqlx::query!(
        "UPDATE jobs j SET state = 'done', finished_at = $3, locked_by = NULL, locked_until = NULL, last_error = NULL
           FROM unnest($1::uuid[], $2::text[]) AS c(id, claim)
          WHERE j.id = c.id AND j.locked_by = c.claim AND j.state = 'running'",
        &ids,
        &claims,
        now
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// The wait before attempt `attempt + 1`: exponential (2 s, 4 s, 8 s … capped at an hour)
/// with jitter over its upper half, so jobs that failed together do not retry together.
pub(crate) fn backoff(attempt: i32) -> TimeDelta {
    let base = 2_i64.saturating_pow(attempt.clamp(1, 12) as u32).min(3600);
    let millis = base * 1000;
    TimeDelta::milliseconds(millis / 2 + rand::rng().random_range(0..=millis / 2))
}

/// Records a failed attempt: queued again after the back-off, or dead (keeping the error)
/// when attempts are used up or the failure is permanent.
pub async fn fail(
    conn: &mut PgConnection,
    job: &Job,
    error: &str,
    permanent: bool,
    now: DateTime<Utc>,
) -> Result<JobState, FinishError> {
    let dead = permanent || job.attempt >= job.max_attempts;
    let error: String = error.chars().take(2000).collect();
    let rows = sqlx::query!(
        "UPDATE jobs SET state = CASE WHEN $3 THEN 'dead' ELSE 'queued' END,
                run_at = $4, last_error = $5, locked_by = NULL, locked_until = NULL,
                finished_at = CASE WHEN $3 THEN $6::timestamptz END
          WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        job.id.as_uuid(),
        job.claim,
        dead,
        now + backoff(job.attempt),
        error,
        now
    )
    .execute(conn)
    .await?
    .rows_affected();
    fenced(rows)?;
    Ok(if dead { JobState::Dead } else { JobState::Queued })
}

/// Puts the job back to run at `at` without counting this attempt (quiet hours, a
/// deferred send, a shutdown).
pub(crate) async fn defer(conn: &mut PgConnection, job: &Job, at: DateTime<Utc>) -> Result<(), FinishError> {
    let rows = sqlx::query!(
        "UPDATE jobs SET state = 'queued', run_at = $3, attempts = greatest(attempts - 1, 0),
                locked_by = NULL, locked_until = NULL
          WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        job.id.as_uuid(),
        job.claim,
        at
    )
    .execute(conn)
    .await?
    .rows_affected();
    fenced(rows)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Dead,
}

/// Queue depth and lag, for `/health/deep` and the operators' CLI.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueStats {
    /// Due now and waiting.
    pub ready: i64,
    /// Scheduled for later.
    pub scheduled: i64,
    pub running: i64,
    pub dead: i64,
    /// Seconds the oldest due job has waited.
    pub lag_seconds: f64,
}

pub(crate) async fn stats(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<QueueStats, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE state = 'queued' AND run_at <= $1) AS "ready!",
                  count(*) FILTER (WHERE state = 'queued' AND run_at > $1) AS "scheduled!",
                  count(*) FILTER (WHERE state = 'running') AS "running!",
                  (SELECT count(*) FROM jobs WHERE state = 'dead') AS "dead!",
                  coalesce(extract(epoch FROM $1 - min(run_at) FILTER (WHERE state = 'queued' AND run_at <= $1)), 0)::float8 AS "lag!"
             FROM jobs WHERE state IN ('queued', 'running')"#,
        now
    )
    .fetch_one(conn)
    .await?;
    Ok(QueueStats {
        ready: row.ready,
        scheduled: row.scheduled,
        running: row.running,
        dead: row.dead,
        lag_seconds: row.lag,
    })
}

/// One line of `lockdev jobs list`.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: JobId,
    pub kind: String,
    pub state: String,
    pub organization_id: Option<OrganizationId>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// The most recent jobs, optionally only those in `state`.
pub async fn list(
    conn: &mut PgConnection,
    state: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRow>, sqlx::Error> {
    sqlx::query_as!(
        JobRow,
        r#"SELECT id AS "id: JobId", kind, state, organization_id AS "organization_id: OrganizationId",
                  attempts, max_attempts, run_at, last_error
             FROM jobs WHERE ($1::text IS NULL OR state = $1)
            ORDER BY created_at DESC, id DESC LIMIT $2"#,
        state,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Gives a dead job a fresh set of attempts, due now. False when it is not dead.
pub async fn retry(conn: &mut PgConnection, id: JobId, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, finished_at = NULL
          WHERE id = $1 AND state = 'dead'",
        id.as_uuid(),
        now
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Deletes finished jobs older than `before` (dead ones are kept for people to look at).
pub(crate) async fn prune(conn: &mut PgConnection, before: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!("DELETE FROM jobs WHERE state = 'done' AND finished_at < $1", before)
        .execute(conn)
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        for attempt in 1..=20 {
            let base = 2_i64.pow(attempt.min(12) as u32).min(3600) * 1000;
            for _ in 0..50 {
                let wait = backoff(attempt).num_milliseconds();
                assert!(wait >= base / 2 && wait <= base, "attempt {attempt}: {wait} ms of {base}");
            }
        }
        let spread: std::collections::HashSet<i64> = (0..50).map(|_| backoff(6).num_milliseconds()).collect();
        assert!(spread.len() > 10, "jitter spreads retries: {spread:?}");
    }
}
