//! The `lockdev` command: serve, migrate, seed, check the configuration.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use lockdev::audit::chain::{self, Chain};
use lockdev::clock::SystemClock;
use lockdev::config::Config;
use lockdev::db::ids::{JobId, OrganizationId};
use lockdev::{AppState, db, demo, telemetry, web};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Requests allocate many small, short-lived buffers (headers, futures, rows, pages);
/// glibc's allocator spent an eighth of a page's CPU on them under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "lockdev", version, about = "Practice platform for clinics: one binary over PostgreSQL.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application (and work background jobs) until SIGTERM or Ctrl-C.
    Serve,
    /// Work background jobs only, until SIGTERM or Ctrl-C (no web server).
    Worker,
    /// Look at and repair the job queue.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Apply pending database migrations (as the owner role).
    Migrate,
    /// Load demonstration data; safe to run repeatedly.
    SeedDemo,
    /// Generate deterministic synthetic clinics for the benchmarks (never in production).
    SeedBench {
        #[arg(long, default_value_t = 50)]
        organizations: usize,
        #[arg(long, default_value_t = 20_000)]
        patients_per_org: u32,
        /// Audit events to append (spread over the clinics and the past year), on top of
        /// any already there; the clinics themselves are generated once.
        #[arg(long, default_value_t = 0)]
        audit_rows: u64,
    },
    /// Validate the configuration and print it with secrets hidden.
    CheckConfig,
    /// Exit 0 when `/health` on the configured address answers 200 (container health checks).
    Healthcheck,
    /// The audit log's hash chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Benchmark S10: the job queue with no-op jobs. Benchmarks only; prints JSON.
    #[command(hide = true)]
    BenchJobs {
        #[arg(long, default_value_t = 20_000)]
        jobs: i64,
        #[arg(long, default_value_t = 4)]
        workers: usize,
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Measure enqueue-to-start latency with this many single jobs instead.
        #[arg(long)]
        latency_samples: Option<usize>,
    },
    /// Serve the benchmark floors: a static handler without middleware, and S1's Fortunes
    /// page through the full stack. Benchmarks only.
    #[command(hide = true)]
    BenchFloor {
        #[arg(long, default_value = "127.0.0.1:3901")]
        bind: SocketAddr,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// The most recent jobs, newest first.
    List {
        /// Only jobs in this state: queued, running, done or dead.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Jobs that used up their attempts (or failed permanently), with their last error.
    Dead {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Give a dead job a fresh set of attempts, due now.
    Retry { id: JobId },
    /// Queue depth and lag.
    Stats,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every chain (or one organization's); exit non-zero at the first broken link.
    Verify {
        /// Only this organization's chain (its ULID).
        #[arg(long)]
        org: Option<OrganizationId>,
    },
    /// Seal pending events now (the server also does this every few seconds).
    Seal,
}

fn main() -> ExitCode {
    lockdev::integrations::install_tls_provider();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("lockdev: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = telemetry::init(&config.log) {
        eprintln!("lockdev: cannot start logging: {error}");
        return ExitCode::from(1);
    }
    telemetry::install_panic_hook(!config.is_production());

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("lockdev: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(error) => {
            // Configuration problems found late (a URL a command needs) stay one line.
            match error.downcast_ref::<lockdev::config::ConfigError>() {
                Some(config_error) => {
                    eprintln!("lockdev: configuration error: {config_error}");
                    ExitCode::from(2)
                }
                None => {
                    eprintln!("lockdev: {error:#}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => serve(config).await?,
        Command::Worker => worker_only(config).await?,
        Command::Jobs { command } => return jobs_command(command, &config).await,
        Command::Migrate => {
            let owner = db::owner_pool(config.database.migration_url()?)
                .await
                .context("connecting as the owner role")?;
            let applied = db::migrate(&owner).await.context("applying migrations")?;
            println!("migrations: {applied} applied, schema current");
        }
        Command::SeedDemo => {
            let owner = db::owner_pool(config.database.migration_url()?)
                .await
                .context("connecting as the owner role")?;
            let key = lockdev::auth::crypto::DataKey::new(config.auth.data_key.expose());
            let summary = demo::seed(&owner, config.is_production(), &key).await?;
            if summary.created == 0 {
                println!("demo data: already present, nothing to create");
            } else {
                println!("demo data: {} rows created", summary.created);
            }
            println!("demo sign-ins (demo data only):");
            for sign_in in summary.sign_ins {
                println!("  {sign_in}");
            }
        }
        Command::SeedBench { organizations, patients_per_org, audit_rows } => {
            anyhow::ensure!(!config.is_production(), "seed-bench refuses to run with LOCKDEV_ENV=production");
            let owner = db::owner_pool(config.database.migration_url()?)
                .await
                .context("connecting as the owner role")?;
            let key = lockdev::auth::crypto::DataKey::new(config.auth.data_key.expose());
            let summary = lockdev::bench_data::seed(&owner, &key, organizations, patients_per_org).await?;
            println!(
                "bench data: {} clinics, {} patients, {} rows written in {:.1} s ({:.0} rows/s)",
                summary.organizations,
                summary.patients,
                summary.rows,
                summary.seconds,
                summary.rows as f64 / summary.seconds.max(0.001)
            );
            if audit_rows > 0 {
                let started = std::time::Instant::now();
                let written =
                    lockdev::bench_data::seed_audit(&owner, organizations, patients_per_org, audit_rows)
                        .await?;
                let seconds = started.elapsed().as_secs_f64();
                println!(
                    "audit events: {written} appended in {seconds:.1} s ({:.0} rows/s)",
                    written as f64 / seconds.max(0.001)
                );
            }
        }
        Command::CheckConfig => {
            config.database.runtime_url()?;
            println!("configuration is valid");
            println!("  environment:      {:?}", config.environment);
            println!("  bind:             {}", config.http.bind);
            println!("  public url:       {}", config.http.public_url);
            println!("  trusted hosts:    {}", config.http.trusted_hosts.join(", "));
            println!("  trusted proxies:  {}", config.http.trusted_proxies.len());
            println!("  request timeout:  {:?}", config.http.request_timeout);
            println!("  body limit:       {} bytes", config.http.body_limit_bytes);
            println!("  rate limit:       {:?}", config.http.rate_limit);
            println!("  database pool:    {} connections", config.database.max_connections);
            println!(
                "  migration url:    {}",
                if config.database.migration_url.is_some() { "set" } else { "not set" }
            );
            println!("  log:              {:?} {}", config.log.format, config.log.filter);
        }
        Command::Healthcheck => return healthcheck(config.http.bind).await,
        Command::Audit { command } => return audit_command(command, &config).await,
        Command::BenchFloor { bind } => {
            anyhow::ensure!(
                !config.is_production(),
                "bench-floor refuses to run with LOCKDEV_ENV=production"
            );
            bench_floor(bind, config).await?;
        }
        Command::BenchJobs { jobs, workers, batch, latency_samples } => {
            anyhow::ensure!(!config.is_production(), "bench-jobs refuses to run with LOCKDEV_ENV=production");
            let database = lockdev::config::DatabaseConfig {
                max_connections: (workers as u32 + 2).max(config.database.max_connections),
                ..config.database.clone()
            };
            let pool = db::runtime_pool(&database)?;
            let out = match latency_samples {
                Some(samples) => {
                    let millis = lockdev::jobs::bench::latency(&pool, samples).await?;
                    let at = |q: f64| millis.get(((millis.len() as f64 - 1.0) * q).round() as usize).copied();
                    serde_json::json!({ "samples": millis.len(), "p50_ms": at(0.5), "p99_ms": at(0.99) })
                }
                None => serde_json::to_value(
                    lockdev::jobs::bench::throughput(&pool, jobs, workers, batch).await?,
                )?,
            };
            println!("{out}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn audit_command(command: AuditCommand, config: &Config) -> anyhow::Result<ExitCode> {
    // Maintenance, not a request: it may wait for the server's sealer to finish a batch
    // (they share a per-chain lock), so the request statement limit does not apply.
    let database = lockdev::config::DatabaseConfig {
        statement_timeout: std::time::Duration::ZERO,
        ..config.database.clone()
    };
    let pool = db::runtime_pool(&database)?;
    match command {
        AuditCommand::Seal => {
            let sealed = chain::seal_all(&pool).await?;
            println!("audit: {sealed} events sealed");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { org } => {
            let chains = match org {
                Some(id) => vec![Chain::Organization(id)],
                None => chain::chains(&pool).await?,
            };
            let mut broken = 0;
            for chain in chains {
                let report = chain::verify(&pool, chain).await?;
                match &report.problem {
                    None => println!("ok      {chain}: {} sealed, {} pending", report.sealed, report.pending),
                    Some(problem) => {
                        broken += 1;
                        println!("BROKEN  {chain}: {problem}");
                    }
                }
            }
            if broken > 0 {
                println!("audit: {broken} chain(s) broken");
                Ok(ExitCode::FAILURE)
            } else {
                println!("audit: every chain verifies");
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::runtime_pool(&config.database)?;
    // Audit partitions a few months ahead; the default partition catches anything else,
    // so a failure here (database still starting) is logged, not fatal.
    match ensure_audit_partitions(&pool).await {
        Ok(created) => tracing::info!(created, "audit partitions ensured"),
        Err(error) => {
            tracing::warn!(error.variant = web::error::sqlx_variant(&error), "audit partitions not ensured");
        }
    }
    let bind = config.http.bind;
    let public_url = config.http.public_url.to_string();
    let jobs = config.jobs;
    let state = AppState::new(config, pool.clone(), Arc::new(SystemClock))?;
    let stop = stop_signal();
    let worker = (jobs.workers > 0).then(|| tokio::spawn(run_worker(&state, jobs, stop.clone())));
    let app = lockdev::build_app(state);
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("binding {bind}"))?;
    tracing::info!(listen = %listener.local_addr()?, url = %public_url, "listening");
    web::serve(listener, app, stopped(stop)).await?;
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// `lockdev worker`: the job workers without the web server.
async fn worker_only(config: Config) -> anyhow::Result<()> {
    let pool = db::runtime_pool(&config.database)?;
    let jobs = lockdev::config::JobsConfig { workers: config.jobs.workers.max(1), ..config.jobs };
    let state = AppState::new(config, pool.clone(), Arc::new(SystemClock))?;
    tracing::info!(workers = jobs.workers, "working jobs");
    run_worker(&state, jobs, stop_signal()).await;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs this process's job workers until `stop` turns true, then drains them.
fn run_worker(
    state: &AppState,
    jobs: lockdev::config::JobsConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let registry = lockdev::jobs::kinds::registry(state.notifier.clone());
    let context = lockdev::jobs::JobContext { pool: state.db.clone(), clock: state.clock.clone() };
    let config = lockdev::jobs::WorkerConfig {
        concurrency: jobs.workers,
        lease: chrono::TimeDelta::seconds(jobs.lease_seconds),
        shutdown_deadline: std::time::Duration::from_secs(jobs.shutdown_seconds),
        ..lockdev::jobs::WorkerConfig::named(lockdev::jobs::WorkerConfig::process_name())
    };
    async move {
        let report = lockdev::jobs::Worker::new(registry, context, config).run(stopped(stop)).await;
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

async fn jobs_command(command: JobsCommand, config: &Config) -> anyhow::Result<ExitCode> {
    use lockdev::jobs::queue;
    let pool = db::runtime_pool(&config.database)?;
    let mut tx = db::tenant::begin_system(&pool, &db::tenant::SystemContext::default()).await?;
    let now = chrono::Utc::now();
    let code = match command {
        JobsCommand::List { state, limit } => {
            if let Some(state) = &state
                && !["queued", "running", "done", "dead"].contains(&state.as_str())
            {
                anyhow::bail!("--state must be queued, running, done or dead");
            }
            print_jobs(&queue::list(&mut tx, state.as_deref(), limit.clamp(1, 1000)).await?);
            ExitCode::SUCCESS
        }
        JobsCommand::Dead { limit } => {
            let dead = queue::list(&mut tx, Some("dead"), limit.clamp(1, 1000)).await?;
            print_jobs(&dead);
            for job in &dead {
                println!("{}  last error: {}", job.id, job.last_error.as_deref().unwrap_or("-"));
            }
            ExitCode::SUCCESS
        }
        JobsCommand::Retry { id } => {
            if queue::retry(&mut tx, id, now).await? {
                println!("job {id} queued again");
                ExitCode::SUCCESS
            } else {
                println!("job {id} is not dead (or does not exist); nothing changed");
                ExitCode::FAILURE
            }
        }
        JobsCommand::Stats => {
            let stats = queue::stats(&mut tx, now).await?;
            println!(
                "due {}  scheduled {}  running {}  dead {}  lag {:.1} s",
                stats.ready, stats.scheduled, stats.running, stats.dead, stats.lag_seconds
            );
            ExitCode::SUCCESS
        }
    };
    tx.commit().await?;
    Ok(code)
}

fn print_jobs(jobs: &[lockdev::jobs::queue::JobRow]) {
    println!(
        "{:<26}  {:<20}  {:<7}  {:>8}  {:<20}  clinic",
        "id", "kind", "state", "attempts", "run at (UTC)"
    );
    for job in jobs {
        println!(
            "{:<26}  {:<20}  {:<7}  {:>3} of {:<2}  {:<20}  {}",
            job.id,
            job.kind,
            job.state,
            job.attempts,
            job.max_attempts,
            job.run_at.format("%Y-%m-%d %H:%M:%S"),
            job.organization_id.map(|o| o.to_string()).unwrap_or_else(|| "-".into())
        );
    }
}

async fn ensure_audit_partitions(pool: &sqlx::PgPool) -> Result<i32, sqlx::Error> {
    let mut tx = db::tenant::begin_system(pool, &db::tenant::SystemContext::default()).await?;
    let created = lockdev::audit::ensure_partitions(&mut tx, 3).await?;
    tx.commit().await?;
    Ok(created)
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

async fn healthcheck(bind: SocketAddr) -> anyhow::Result<ExitCode> {
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
async fn bench_floor(bind: SocketAddr, config: Config) -> anyhow::Result<()> {
    let pool = db::runtime_pool(&config.database)?;
    let state = AppState::new(config, pool.clone(), Arc::new(SystemClock))?;
    let app = web::routes::bench_floor().merge(web::app(state, lockdev::fortunes::routes()));
    let listener = tokio::net::TcpListener::bind(bind).await?;
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    pool.close().await;
    Ok(())
}
