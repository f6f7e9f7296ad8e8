//! Job kinds and measurements for the benchmarks and the tests, never in the production
//! registry: [`Probe`] (records that it ran; can sleep, fail or panic on request) and
//! [`Noop`] (does nothing: the queue's own cost).
//!
//! Benchmark S10 (never run by tests): the queue's own cost with no-op jobs.
//!
//! - Throughput: `jobs` no-op jobs are queued at once, then `workers` job slots work them
//!   until none is left; jobs per second of wall time. With `batch` 1 every job is a
//!   claim and a transaction of its own; above 1, claims take up to `batch` jobs and jobs
//!   of one context share a transaction.
//! - Latency: with an idle worker listening, single jobs are queued one at a time (each
//!   its own committed transaction) and the time from enqueue to the claim that starts
//!   it is read back from the rows (`started_at - created_at`).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};

use crate::clock::SystemClock;
use crate::db::tenant::{SystemContext, begin_system};
use crate::jobs::{Job, JobContext, JobError, JobKind, Outcome, Registry, Worker, WorkerConfig};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ProbePayload {
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
impl JobKind for Probe {
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
            tokio::time::sleep(Duration::from_millis(payload.sleep_ms.min(10_000))).await;
        }
        Ok(Outcome::Done)
    }
}

/// Does nothing: the queue's own cost, for the benchmark.
pub(crate) struct Noop;

#[async_trait]
impl JobKind for Noop {
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

#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Throughput {
    pub jobs: u64,
    pub seconds: f64,
    pub jobs_per_second: f64,
}

fn worker(pool: &PgPool, workers: usize, batch: usize) -> Worker {
    let context = JobContext { pool: pool.clone(), clock: std::sync::Arc::new(SystemClock) };
    let config = WorkerConfig {
        concurrency: workers,
        batch,
        schedule: false,
        poll: Duration::from_millis(200),
        ..WorkerConfig::named("bench")
    };
    Worker::new(Registry::new().with(Noop), context, config)
}

/// Queues `count` no-op jobs in one statement.
pub async fn fill(pool: &PgPool, count: i64) -> Result<(), sqlx::Error> {
    let mut tx = begin_system(pool, &SystemContext::default()).await?;
    sqlx::query!(
        "INSERT INTO jobs (kind, payload, run_at, created_at)
         SELECT 'noop', '{}', $2, $2 FROM generate_series(1, $1::bigint)",
        count,
        Utc::now()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Removes the benchmark's jobs.
pub async fn clear(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = begin_system(pool, &SystemContext::default()).await?;
    sqlx::query!("DELETE FROM jobs WHERE kind = 'noop'").execute(&mut *tx).await?;
    tx.commit().await
}

pub(crate) async fn throughput(
    pool: &PgPool,
    count: i64,
    workers: usize,
    batch: usize,
) -> Result<Throughput, sqlx::Error> {
    clear(pool).await?;
    fill(pool, count).await?;
    let started = Instant::now();
    // `drain` claims while anything is due; several drains in parallel are the slots.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let w = worker(pool, 1, batch);
        tasks.spawn(async move { w.drain().await });
    }
    let mut jobs = 0;
    while let Some(done) = tasks.join_next().await {
        jobs += done.unwrap_or(0);
    }
    let seconds = started.elapsed().as_secs_f64();
    clear(pool).await?;
    Ok(Throughput { jobs, seconds, jobs_per_second: jobs as f64 / seconds.max(1e-9) })
}

/// Enqueue-to-start latencies in milliseconds, sorted.
pub(crate) async fn latency(pool: &PgPool, samples: usize) -> Result<Vec<f64>, sqlx::Error> {
    clear(pool).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let w = worker(pool, 4, 1);
    let running = tokio::spawn(async move {
        let mut stopped = stopped;
        w.run(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await
    });
    // Let the worker start listening.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..samples {
        let mut tx = begin_system(pool, &SystemContext::default()).await?;
        crate::jobs::enqueue(&mut tx, &crate::jobs::NewJob::new("noop", serde_json::json!({})), Utc::now())
            .await?;
        tx.commit().await?;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.send(true);
    let _ = running.await;
    let mut tx = begin_system(pool, &SystemContext::default()).await?;
    let mut millis: Vec<f64> = sqlx::query_scalar!(
        r#"SELECT (extract(epoch FROM started_at - created_at) * 1000)::float8 AS "ms!"
             FROM jobs WHERE kind = 'noop' AND started_at IS NOT NULL"#
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    clear(pool).await?;
    millis.sort_by(f64::total_cmp);
    Ok(millis)
}
