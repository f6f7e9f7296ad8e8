//! Background work: a durable queue in PostgreSQL (`jobs`), worked by tokio tasks in the
//! same binary (`lockdev serve`, or `lockdev worker` for a process that only works jobs).
//!
//! - A job is queued in the caller's transaction ([`enqueue`]), so it exists only if the
//!   work that asked for it committed. Workers wake on LISTEN/NOTIFY, and poll as a
//!   fallback.
//! - Claims are short `FOR UPDATE SKIP LOCKED` statements that set a lease; a crashed
//!   worker's jobs are claimed again when the lease ends. The claim token fences the
//!   finish, and the finish happens in the transaction that did the work, so each job's
//!   database effects happen exactly once, however many processes share the database.
//! - The job's clinic is the transaction context of its work: a job for clinic A cannot
//!   see or change clinic B's rows (row-level security decides, not the job's code).
//! - Failures back off exponentially with jitter; when attempts run out (or the failure is
//!   permanent) the job is dead and keeps its last error (`lockdev jobs dead`).
//! - Recurring work (reminder planning, audit sealing and partitions, clean-up) is
//!   queued by [`schedule`], one job per time slot, whatever the number of processes.

pub mod kinds;
pub mod queue;
pub mod schedule;
pub mod worker;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

pub use queue::{Job, JobState, NewJob, QueueStats, enqueue};
pub use worker::{Worker, WorkerConfig};

use crate::clock::SharedClock;

/// What a job's work asks the runner to do with the job, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Not now (quiet hours, say): run again at this time; the attempt does not count.
    RunAt(DateTime<Utc>),
    /// This attempt failed in a way already recorded by the work (a provider refused a
    /// message): commit what the work wrote, and retry after the back-off.
    RetryLater(String),
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (a database or network hiccup). The work is rolled back.
    #[error("{0}")]
    Transient(String),
    /// Never worth retrying (a payload naming something this clinic does not have).
    /// The work is rolled back and the job is dead at once.
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for JobError {
    fn from(error: sqlx::Error) -> Self {
        Self::Transient(format!("database: {}", crate::db::errors::sqlx_variant(&error)))
    }
}

/// Everything a job's work may use besides its transaction.
#[derive(Clone)]
pub struct JobContext {
    pub pool: PgPool,
    pub clock: SharedClock,
}

/// One kind of job. `run` works inside the transaction the runner opened in the job's
/// context (its clinic, or the platform); the runner then finishes the job in that same
/// transaction and commits.
#[async_trait]
pub trait JobKind: Send + Sync + 'static {
    fn kind(&self) -> &'static str;

    /// Jobs of a batchable kind may share one transaction (each behind a savepoint) with
    /// other jobs of the same clinic claimed together: one commit for many jobs. Only for
    /// work whose effects are all in the database.
    fn batchable(&self) -> bool {
        false
    }

    /// For recurring work: how often a slot comes round (see `schedule`). The kind
    /// declares its own rhythm, so the scheduler names no kind.
    fn every(&self) -> Option<chrono::TimeDelta> {
        None
    }

    async fn run(
        &self,
        job: &Job,
        tx: &mut Transaction<'static, Postgres>,
        context: &JobContext,
    ) -> Result<Outcome, JobError>;
}

/// The kinds this process can work, by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: HashMap<&'static str, Arc<dyn JobKind>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, kind: impl JobKind) -> Self {
        self.kinds.insert(kind.kind(), Arc::new(kind));
        self
    }

    pub fn get(&self, kind: &str) -> Option<Arc<dyn JobKind>> {
        self.kinds.get(kind).cloned()
    }

    /// The recurring kinds, with how often each runs, in name order.
    pub fn recurring(&self) -> Vec<(&'static str, chrono::TimeDelta)> {
        let mut recurring: Vec<_> =
            self.kinds.iter().filter_map(|(name, kind)| kind.every().map(|every| (*name, every))).collect();
        recurring.sort_unstable_by_key(|(name, _)| *name);
        recurring
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.kinds.keys().copied().collect();
        names.sort_unstable();
        names
    }
}
