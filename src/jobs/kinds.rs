//! The platform's own job kinds (upkeep). Feature kinds (messages, reminders) live with
//! their feature; the list of every kind a process works is the composition root's
//! (`job_kinds` in `app.rs`).

use async_trait::async_trait;
use chrono::TimeDelta;
use sqlx::{Postgres, Transaction};

use super::{Job, JobContext, JobError, Outcome};

/// Seals new audit events into each chain.
pub(crate) struct SealAudit;

#[async_trait]
impl super::JobKind for SealAudit {
    fn kind(&self) -> &'static str {
        "audit.seal"
    }

    fn every(&self) -> Option<TimeDelta> {
        Some(TimeDelta::seconds(10))
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
pub(crate) struct AuditPartitions;

#[async_trait]
impl super::JobKind for AuditPartitions {
    fn kind(&self) -> &'static str {
        "audit.partitions"
    }

    fn every(&self) -> Option<TimeDelta> {
        Some(TimeDelta::hours(24))
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
pub(crate) struct SessionCleanup;

#[async_trait]
impl super::JobKind for SessionCleanup {
    fn kind(&self) -> &'static str {
        "sessions.cleanup"
    }

    fn every(&self) -> Option<TimeDelta> {
        Some(TimeDelta::minutes(15))
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
pub(crate) struct PruneJobs;

#[async_trait]
impl super::JobKind for PruneJobs {
    fn kind(&self) -> &'static str {
        "jobs.prune"
    }

    fn every(&self) -> Option<TimeDelta> {
        Some(TimeDelta::hours(24))
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
