//! The worker loop: wake on NOTIFY (or the poll interval), claim what there is room
//! for, run each job in its context's transaction, finish it there, and on shutdown stop
//! claiming, let in-flight jobs finish until the deadline, and hand the rest back.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Postgres, Transaction};
use tokio::task::{Id as TaskId, JoinSet};

use super::queue::{self, FinishError, Job};
use super::{JobContext, JobError, Outcome, Registry};
use crate::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant, platform_connection};

/// The NOTIFY channel a queued job wakes workers on (see the `jobs` trigger).
pub(crate) const WAKE_CHANNEL: &str = "lockdev_jobs";

/// How often a worker queues the recurring jobs' current slots.
const SCHEDULE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this process in claims (`host:pid`), so an operator sees who holds a job.
    pub name: String,
    /// Jobs worked at once.
    pub concurrency: usize,
    /// Jobs claimed per statement; above 1, batchable jobs of one clinic also share a
    /// transaction.
    pub batch: usize,
    /// How long a claim holds before another worker may take the job over.
    pub lease: TimeDelta,
    /// Claims happen at least this often even if no NOTIFY arrives.
    pub poll: Duration,
    /// How long in-flight jobs may run after shutdown is asked for.
    pub shutdown_deadline: Duration,
    /// Also queue the recurring jobs' slots (see [`super::schedule`]).
    pub schedule: bool,
}

impl WorkerConfig {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            concurrency: 4,
            batch: 1,
            lease: TimeDelta::seconds(120),
            poll: Duration::from_secs(2),
            shutdown_deadline: Duration::from_secs(20),
            schedule: true,
        }
    }

    /// This host and process, for claim tokens.
    pub(crate) fn process_name() -> String {
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
        format!("{}:{}", if host.is_empty() { "host" } else { &host }, std::process::id())
    }
}

/// What a worker did, reported when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerReport {
    pub finished: u64,
    /// Jobs handed back at shutdown because the deadline passed.
    pub released: u64,
}

pub struct Worker {
    registry: Arc<Registry>,
    context: JobContext,
    config: WorkerConfig,
}

impl Worker {
    pub fn new(registry: Registry, context: JobContext, config: WorkerConfig) -> Self {
        Self { registry: Arc::new(registry), context, config }
    }

    /// Works jobs until `shutdown` resolves, then drains as described in the module.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> WorkerReport {
        let mut report = WorkerReport::default();
        let mut listener = listen(&self.context.pool).await;
        let mut in_flight: JoinSet<u64> = JoinSet::new();
        let mut held: HashMap<TaskId, Vec<Job>> = HashMap::new();
        let mut claim_failures = 0u32;
        let mut next_schedule = tokio::time::Instant::now();
        tokio::pin!(shutdown);
        loop {
            if self.config.schedule && tokio::time::Instant::now() >= next_schedule {
                next_schedule = tokio::time::Instant::now() + SCHEDULE_EVERY;
                if let Err(error) =
                    super::schedule::queue_due(&self.context.pool, &self.registry, self.context.clock.now())
                        .await
                {
                    tracing::warn!(
                        error.variant = crate::db::errors::sqlx_variant(&error),
                        "recurring jobs not queued"
                    );
                }
            }
            // Claim while there is room; a full claim means more may be waiting.
            let room = self.config.concurrency.saturating_sub(in_flight.len());
            let mut claimed_full = false;
            if room > 0 {
                let limit = room * self.config.batch.max(1);
                match self.claim(limit).await {
                    Ok(jobs) => {
                        claim_failures = 0;
                        claimed_full = jobs.len() == limit;
                        self.spawn_groups(jobs, &mut in_flight, &mut held);
                    }
                    Err(error) => {
                        claim_failures += 1;
                        tracing::warn!(
                            error.variant = crate::db::errors::sqlx_variant(&error),
                            "job claim failed; retrying"
                        );
                    }
                }
            }
            let pause = if claim_failures > 0 {
                Duration::from_millis(200 * u64::from(claim_failures.min(25)))
            } else if claimed_full && in_flight.len() < self.config.concurrency {
                Duration::ZERO
            } else if self.config.schedule {
                self.config.poll.min(next_schedule.saturating_duration_since(tokio::time::Instant::now()))
            } else {
                self.config.poll
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                    report.finished += self.settle(joined, &mut held).await;
                }
                woke = wait_for_wake(&mut listener), if listener.is_some() => {
                    if !woke {
                        // The listening connection broke (database restart, terminated
                        // backend); listen again, polling meanwhile.
                        listener = listen(&self.context.pool).await;
                    }
                }
                () = tokio::time::sleep(pause) => {}
            }
        }

        // Shutdown: no more claims. In-flight jobs get until the deadline.
        let deadline = tokio::time::Instant::now() + self.config.shutdown_deadline;
        while !in_flight.is_empty() {
            match tokio::time::timeout_at(deadline, in_flight.join_next_with_id()).await {
                Ok(Some(joined)) => report.finished += self.settle(joined, &mut held).await,
                Ok(None) => break,
                Err(_) => {
                    in_flight.abort_all();
                    while let Some(joined) = in_flight.join_next_with_id().await {
                        report.finished += self.settle(joined, &mut held).await;
                    }
                }
            }
        }
        // What was aborted is handed back now, not left to the lease.
        for job in held.into_values().flatten() {
            if self.release(&job).await {
                report.released += 1;
            }
        }
        report
    }

    /// Works every job due now, batch by batch, until none is left: for tests, benchmarks
    /// and maintenance, without listening or scheduling. Stops early if a thousand rounds
    /// in a row finish nothing (jobs that keep deferring themselves to now).
    pub async fn drain(&self) -> u64 {
        let mut finished = 0;
        let mut idle_rounds = 0;
        while idle_rounds < 1000 {
            let jobs = match self.claim(self.config.concurrency.max(1) * self.config.batch.max(1)).await {
                Ok(jobs) if !jobs.is_empty() => jobs,
                _ => break,
            };
            // Each group in a task of its own, as in `run`, so a panic is contained.
            let mut tasks = JoinSet::new();
            let mut held = HashMap::new();
            self.spawn_groups(jobs, &mut tasks, &mut held);
            let before = finished;
            while let Some(joined) = tasks.join_next_with_id().await {
                finished += self.settle(joined, &mut held).await;
            }
            idle_rounds = if finished == before { idle_rounds + 1 } else { 0 };
        }
        finished
    }

    /// Starts one task per group of claimed jobs (see [`Self::group`]), remembering which
    /// jobs each task holds, so a panic or an abort can be attributed to them.
    fn spawn_groups(&self, jobs: Vec<Job>, tasks: &mut JoinSet<u64>, held: &mut HashMap<TaskId, Vec<Job>>) {
        for group in self.group(jobs) {
            let worker = self.clone_parts();
            let claimed = group.clone();
            held.insert(tasks.spawn(async move { worker.work(claimed).await }).id(), group);
        }
    }

    fn clone_parts(&self) -> Worker {
        Worker { registry: self.registry.clone(), context: self.context.clone(), config: self.config.clone() }
    }

    async fn claim(&self, limit: usize) -> Result<Vec<Job>, sqlx::Error> {
        let mut conn = platform_connection(&self.context.pool).await?;
        queue::claim(&mut conn, &self.config.name, limit as i64, self.context.clock.now(), self.config.lease)
            .await
    }

    /// Batchable jobs of the same context share a task (and a transaction); every other
    /// job gets its own.
    fn group(&self, jobs: Vec<Job>) -> Vec<Vec<Job>> {
        let mut groups: Vec<Vec<Job>> = Vec::new();
        let mut batches: HashMap<(Option<crate::db::ids::OrganizationId>, String), usize> = HashMap::new();
        for job in jobs {
            let batchable =
                self.config.batch > 1 && self.registry.get(&job.kind).is_some_and(|kind| kind.batchable());
            if batchable {
                let key = (job.organization_id, job.kind.clone());
                if let Some(&index) = batches.get(&key)
                    && groups[index].len() < self.config.batch
                {
                    groups[index].push(job);
                    continue;
                }
                batches.insert(key, groups.len());
            }
            groups.push(vec![job]);
        }
        groups
    }

    /// A task ended: forget what it held; a panicked task's jobs are recorded as failed
    /// (aborted ones stay held, to be released).
    async fn settle(
        &self,
        joined: Result<(TaskId, u64), tokio::task::JoinError>,
        held: &mut HashMap<TaskId, Vec<Job>>,
    ) -> u64 {
        match joined {
            Ok((id, finished)) => {
                held.remove(&id);
                finished
            }
            Err(error) if error.is_panic() => {
                let jobs = held.remove(&error.id()).unwrap_or_default();
                for job in &jobs {
                    tracing::error!(job.id = %job.id, job.kind = %job.kind, "job panicked");
                    self.record_failure(job, &JobError::Transient("the job panicked".into())).await;
                }
                jobs.len() as u64
            }
            Err(_) => 0,
        }
    }

    /// Runs one task's jobs; returns how many finished (done, deferred or failed).
    async fn work(&self, jobs: Vec<Job>) -> u64 {
        if jobs.len() == 1 {
            let job = &jobs[0];
            return u64::from(self.work_one(job).await);
        }
        self.work_batch(&jobs).await
    }

    async fn begin(&self, job: &Job) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        match job.organization_id {
            Some(organization) => {
                begin_tenant(&self.context.pool, &TenantContext::system(organization)).await
            }
            None => begin_system(&self.context.pool, &SystemContext::default()).await,
        }
    }

    /// Runs `job` with a time limit well inside its lease.
    async fn run_kind(
        &self,
        job: &Job,
        tx: &mut Transaction<'static, Postgres>,
    ) -> Result<Outcome, JobError> {
        if job.attempt > job.max_attempts {
            return Err(JobError::Permanent("the worker was lost during the last attempt".into()));
        }
        let Some(kind) = self.registry.get(&job.kind) else {
            return Err(JobError::Permanent(format!("no worker knows the job kind {:?}", job.kind)));
        };
        let limit = (self.config.lease / 2).to_std().unwrap_or(Duration::from_secs(60));
        match tokio::time::timeout(limit, kind.run(job, tx, &self.context)).await {
            Ok(result) => result,
            Err(_) => Err(JobError::Transient("the job ran past its time limit".into())),
        }
    }

    async fn work_one(&self, job: &Job) -> bool {
        let result = async {
            let mut tx = self.begin(job).await?;
            let outcome = self.run_kind(job, &mut tx).await;
            let now = self.context.clock.now();
            match outcome {
                Ok(Outcome::Done) => queue::complete(&mut tx, job, now).await?,
                Ok(Outcome::RunAt(at)) => queue::defer(&mut tx, job, at).await?,
                Ok(Outcome::RetryLater(error)) => {
                    queue::fail(&mut tx, job, &error, false, now).await?;
                }
                Err(error) => return Ok::<_, WorkError>(Some(error)),
            }
            tx.commit().await.map_err(FinishError::from)?;
            Ok(None)
        }
        .await;
        match result {
            Ok(None) => true,
            // The work failed: its transaction was dropped (rolled back); record the failure.
            Ok(Some(error)) => {
                self.record_failure(job, &error).await;
                true
            }
            Err(WorkError::Finish(FinishError::LeaseLost(_))) => {
                tracing::warn!(job.id = %job.id, job.kind = %job.kind, "lease lost; the work was rolled back");
                false
            }
            Err(error) => {
                self.record_failure(job, &JobError::Transient(error.to_string())).await;
                true
            }
        }
    }

    /// Batchable jobs of one context: each behind a savepoint, all finished in one
    /// statement and one commit.
    async fn work_batch(&self, jobs: &[Job]) -> u64 {
        let result = async {
            let mut tx = self.begin(&jobs[0]).await?;
            let mut done = Vec::with_capacity(jobs.len());
            let mut failed = Vec::new();
            for job in jobs {
                sqlx::query("SAVEPOINT job").execute(&mut *tx).await?;
                match self.run_kind(job, &mut tx).await {
                    Ok(Outcome::Done) => {
                        sqlx::query("RELEASE SAVEPOINT job").execute(&mut *tx).await?;
                        done.push(job);
                    }
                    other => {
                        sqlx::query("ROLLBACK TO SAVEPOINT job").execute(&mut *tx).await?;
                        failed.push((job, other));
                    }
                }
            }
            let now = self.context.clock.now();
            let mut finished = queue::complete_many(&mut tx, &done, now).await?;
            for (job, outcome) in failed {
                let applied = match outcome {
                    Ok(Outcome::RunAt(at)) => queue::defer(&mut tx, job, at).await,
                    Ok(Outcome::RetryLater(error)) => {
                        queue::fail(&mut tx, job, &error, false, now).await.map(|_| ())
                    }
                    Err(error) => queue::fail(
                        &mut tx,
                        job,
                        &error.to_string(),
                        matches!(error, JobError::Permanent(_)),
                        now,
                    )
                    .await
                    .map(|_| ()),
                    Ok(Outcome::Done) => Ok(()),
                };
                match applied {
                    Ok(()) => finished += 1,
                    Err(FinishError::LeaseLost(_)) => {}
                    Err(FinishError::Database(error)) => return Err(WorkError::Database(error)),
                }
            }
            tx.commit().await?;
            Ok::<_, WorkError>(finished)
        }
        .await;
        match result {
            Ok(finished) => finished,
            Err(error) => {
                for job in jobs {
                    self.record_failure(job, &JobError::Transient(error.to_string())).await;
                }
                jobs.len() as u64
            }
        }
    }

    /// Records a failed attempt after the work was rolled back. If even that fails (the
    /// database is away), the lease runs out and the job is claimed again.
    async fn record_failure(&self, job: &Job, error: &JobError) {
        let permanent = matches!(error, JobError::Permanent(_));
        let recorded = async {
            let mut tx = begin_system(&self.context.pool, &SystemContext::default()).await?;
            let state =
                queue::fail(&mut tx, job, &error.to_string(), permanent, self.context.clock.now()).await?;
            tx.commit().await.map_err(FinishError::from)?;
            Ok::<_, FinishError>(state)
        }
        .await;
        match recorded {
            Ok(state) => tracing::warn!(
                job.id = %job.id, job.kind = %job.kind, job.attempt = job.attempt, ?state,
                error = %error, "job attempt failed"
            ),
            Err(failure) => {
                tracing::warn!(job.id = %job.id, error = %failure, "job failure not recorded; the lease will expire");
            }
        }
    }

    /// Hands an unfinished job back at shutdown, due now, its attempt not counted.
    async fn release(&self, job: &Job) -> bool {
        let released = async {
            let mut tx = begin_system(&self.context.pool, &SystemContext::default()).await?;
            queue::defer(&mut tx, job, self.context.clock.now()).await?;
            tx.commit().await.map_err(FinishError::from)
        }
        .await;
        released.is_ok()
    }
}

#[derive(Debug, thiserror::Error)]
enum WorkError {
    #[error(transparent)]
    Finish(#[from] FinishError),
    #[error("database: {}", crate::db::errors::sqlx_variant(.0))]
    Database(#[from] sqlx::Error),
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.ok()?;
    listener.listen(WAKE_CHANNEL).await.ok()?;
    Some(listener)
}

/// True when woken; false when the listening connection is gone.
async fn wait_for_wake(listener: &mut Option<PgListener>) -> bool {
    match listener {
        Some(l) => match l.try_recv().await {
            Ok(Some(_)) => true,
            Ok(None) | Err(_) => {
                *listener = None;
                false
            }
        },
        None => std::future::pending().await,
    }
}
