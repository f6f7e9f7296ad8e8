//! The platform's own job kinds (probes, upkeep) and the registry of every kind this
//! binary works. Feature kinds (messages, reminders) live with their feature.

use async_trait::async_trait;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Transaction};

use super::{Job, JobContext, JobError, Outcome, Registry};
use crate::notify::{self, Notifier};

/// Every kind `lockdev serve` and `lockdev worker` run.
pub fn registry(notifier: Notifier) -> Registry {
    Registry::new()
        .with(Probe)
        .with(Noop)
        .with(SealAudit)
        .with(AuditPartitions)
        .with(SessionCleanup)
        .with(PruneJobs)
        .with(notify::reminders::PlanAllReminders)
        .with(notify::reminders::PlanReminders)
        .with(notify::jobs::SendNotification::new(notifier.clone()))
        .with(notify::jobs::SendAccountEmail::new(notifier))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProbePayload {
    /// Hold the transaction this long first (crash tests aim their kill inside it).
    #[serde(default)]
    pub sleep_ms: u64,
    /// Fail this many attempts first (retry and dead-letter tests).
    #[serde(default)]
    pub fail_attempts: i32,
    /// Panic instead (a panicking job must not take its worker down).
    #[serde(default)]
    pub panic: bool,
}

/// Records that it ran, in the transaction that finishes it: a side effect keyed by the
/// job, so tests and health checks can prove each job took effect once.
pub struct Probe;

#[async_trait]
impl super::JobKind for Probe {
    fn kind(&self) -> &'static str {
        "probe"
    }

    fn batchable(&self) -> bool {
        true
    }

    async fn run(
        &self,
        job: &Job,
        tx: &mut Transaction<'static, Postgres>,
        _context: &JobContext,
    ) -> Result<Outcome, JobError> {
        let payload: ProbePayload = job.payload()?;
        if payload.panic {
            #[allow(clippy::panic)]
            {
                panic!("probe asked to panic");
            }
        }
        if job.attempt <= payload.fail_attempts {
            return Err(JobError::Transient(format!("probe asked to fail attempt {}", job.attempt)));
        }
        sqlx::query!(
            "INSERT INTO job_probe_runs (job_id, worker) VALUES ($1, $2)",
            job.id.as_uuid(),
            job.claim
        )
        .execute(&mut **tx)
        .await?;
        if payload.sleep_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(payload.sleep_ms.min(10_000))).await;
        }
        Ok(Outcome::Done)
    }
}

/// Does nothing: the queue's own cost, for the benchmark.
pub struct Noop;

#[async_trait]
impl super::JobKind for Noop {
    fn kind(&self) -> &'static str {
        "noop"
    }

    fn batchable(&self) -> bool {
        true
    }

    async fn run(
        &self,
        _: &Job,
        _: &mut Transaction<'static, Postgres>,
        _: &JobContext,
    ) -> Result<Outcome, JobError> {
        Ok(Outcome::Done)
    }
}

/// Seals new audit events into each chain.
pub struct SealAudit;

#[async_trait]
impl super::JobKind for SealAudit {
    fn kind(&self) -> &'static str {
        "audit.seal"
    }

    async fn run(
        &self,
        _: &Job,
        _: &mut Transaction<'static, Postgres>,
        context: &JobContext,
    ) -> Result<Outcome, JobError> {
        // Sealing takes a per-chain lock in transactions of its own.
        crate::audit::chain::seal_all(&context.pool).await?;
        Ok(Outcome::Done)
    }
}

/// Keeps monthly audit partitions three months ahead.
pub struct AuditPartitions;

#[async_trait]
impl super::JobKind for AuditPartitions {
    fn kind(&self) -> &'static str {
        "audit.partitions"
    }

    async fn run(
        &self,
        _: &Job,
        tx: &mut Transaction<'static, Postgres>,
        _: &JobContext,
    ) -> Result<Outcome, JobError> {
        crate::audit::ensure_partitions(tx, 3).await?;
        Ok(Outcome::Done)
    }
}

/// Deletes server-side sessions past their expiry (a thousand at a time).
pub struct SessionCleanup;

#[async_trait]
impl super::JobKind for SessionCleanup {
    fn kind(&self) -> &'static str {
        "sessions.cleanup"
    }

    async fn run(
        &self,
        _: &Job,
        tx: &mut Transaction<'static, Postgres>,
        context: &JobContext,
    ) -> Result<Outcome, JobError> {
        sqlx::query!(
            "DELETE FROM tower_sessions.session WHERE id IN
               (SELECT id FROM tower_sessions.session WHERE expiry_date < $1 LIMIT 1000)",
            context.clock.now()
        )
        .execute(&mut **tx)
        .await?;
        Ok(Outcome::Done)
    }
}

/// Deletes finished jobs after a week (dead ones stay until someone retries them).
pub struct PruneJobs;

#[async_trait]
impl super::JobKind for PruneJobs {
    fn kind(&self) -> &'static str {
        "jobs.prune"
    }

    async fn run(
        &self,
        _: &Job,
        tx: &mut Transaction<'static, Postgres>,
        context: &JobContext,
    ) -> Result<Outcome, JobError> {
        super::queue::prune(tx, context.clock.now() - TimeDelta::days(7)).await?;
        Ok(Outcome::Done)
    }
}
