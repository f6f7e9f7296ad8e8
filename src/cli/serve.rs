//! Running: the web server with its job workers, a worker-only process, the container
//! health probe, and the benchmark floors.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::db;

pub(super) async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::runtime_pool(&config.database)?;
    // Audit partitions a few months ahead; the default partition catches anything else,
    // so a failure here (database still starting) is logged, not fatal.
    match super::maintenance::ensure_audit_partitions(&pool).await {
        Ok(created) => tracing::info!(created, "audit partitions ensured"),
        Err(error) => {
            tracing::warn!(error.variant = db::errors::sqlx_variant(&error), "audit partitions not ensured");
        }
    }
    let bind = config.http.bind;
    let public_url = config.http.public_url.to_string();
    let jobs = config.jobs;
    let state = crate::app::state(config, pool.clone(), Arc::new(SystemClock))?;
    let stop = stop_signal();
    let worker = (jobs.workers > 0).then(|| {
        tokio::spawn(run_worker(&state, crate::app::job_kinds(&state.notifier), jobs, stop.clone()))
    });
    let app = crate::app::build_app(state);
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("binding {bind}"))?;
    tracing::info!(listen = %listener.local_addr()?, url = %public_url, "listening");
    crate::web::pipeline::serve(listener, app, stopped(stop)).await?;
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// `lockdev worker`: the job workers without the web server.
/// Which job kinds a worker process works.
pub(super) enum Kinds {
    Production,
    /// Production's and the benchmark's probe and no-op kinds (tests of the process).
    WithProbes,
}

pub(super) async fn worker_only(config: Config, kinds: Kinds) -> anyhow::Result<()> {
    let pool = db::runtime_pool(&config.database)?;
    let jobs = crate::config::JobsConfig { workers: config.jobs.workers.max(1), ..config.jobs };
    let state = crate::app::state(config, pool.clone(), Arc::new(SystemClock))?;
    tracing::info!(workers = jobs.workers, "working jobs");
    let registry = match kinds {
        Kinds::Production => crate::app::job_kinds(&state.notifier),
        Kinds::WithProbes => crate::app::job_kinds(&state.notifier)
            .with(crate::bench::jobs::Probe)
            .with(crate::bench::jobs::Noop),
    };
    run_worker(&state, registry, jobs, stop_signal()).await;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs this process's job workers until `stop` turns true, then drains them.
fn run_worker(
    state: &crate::web::AppState,
    registry: crate::jobs::Registry,
    jobs: crate::config::JobsConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let context = crate::jobs::JobContext { pool: state.db.clone(), clock: state.clock.clone() };
    let config = crate::jobs::WorkerConfig {
        concurrency: jobs.workers,
        lease: chrono::TimeDelta::seconds(jobs.lease_seconds),
        shutdown_deadline: std::time::Duration::from_secs(jobs.shutdown_seconds),
        ..crate::jobs::WorkerConfig::named(crate::jobs::WorkerConfig::process_name())
    };
    async move {
        let report = crate::jobs::Worker::new(registry, context, config).run(stopped(stop)).await;
        tracing::info!(finished = report.finished, released = report.released, "job workers stopped");
    }
}

/// Turns true once at Ctrl-C or SIGTERM; every part of the process waits on a clone.
fn stop_signal() -> tokio::sync::watch::Receiver<bool> {
    let (sender, receiver) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = sender.send(true);
    });
    receiver
}

async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Resolves on Ctrl-C or SIGTERM (what container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; draining in-flight requests");
}

pub(super) async fn healthcheck(bind: SocketAddr) -> anyhow::Result<ExitCode> {
    let mut target = bind;
    if target.ip().is_unspecified() {
        target.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(target).await?;
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<_, std::io::Error>(head.starts_with(b"HTTP/1.1 200"))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(3), probe).await {
        Ok(Ok(true)) => Ok(ExitCode::SUCCESS),
        _ => Ok(ExitCode::FAILURE),
    }
}

/// The benchmark floors served over HTTP: F_http at `/` (the cheapest response this
/// binary can give: one static handler, no middleware) and S1's Fortunes page at
/// `/fortunes`, through the application's full stack like any page `serve` answers.
pub(super) async fn bench_floor(bind: SocketAddr, config: Config) -> anyhow::Result<()> {
    let pool = db::runtime_pool(&config.database)?;
    let state = crate::app::state(config, pool.clone(), Arc::new(SystemClock))?;
    let app = crate::bench::floor().merge(crate::web::pipeline::app(state, crate::bench::fortunes::routes()));
    let listener = tokio::net::TcpListener::bind(bind).await?;
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    pool.close().await;
    Ok(())
}
