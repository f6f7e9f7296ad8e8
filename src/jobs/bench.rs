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

use chrono::Utc;
use sqlx::PgPool;

use super::{JobContext, Registry, Worker, WorkerConfig, kinds::Noop};
use crate::clock::SystemClock;
use crate::db::tenant::{SystemContext, begin_system};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Throughput {
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

pub async fn throughput(
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
pub async fn latency(pool: &PgPool, samples: usize) -> Result<Vec<f64>, sqlx::Error> {
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
        super::enqueue(&mut tx, &super::NewJob::new("noop", serde_json::json!({})), Utc::now()).await?;
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
