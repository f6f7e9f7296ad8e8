//! `lockdev bench ...`: the benchmarks' own commands — the data generator, the HTTP
//! floor and the Fortunes page, the job-queue probes, the rate limiter under a flood, and
//! a worker that also runs the probe kinds. Each refuses to run in production.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Subcommand;

use super::serve;
use crate::config::Config;
use crate::db;

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Generate deterministic synthetic clinics for the benchmarks.
    Seed {
        #[arg(long, default_value_t = 50)]
        organizations: usize,
        #[arg(long, default_value_t = 20_000)]
        patients_per_org: u32,
        /// Audit events to append (spread over the clinics and the past year), on top of
        /// any already there; the clinics themselves are generated once.
        #[arg(long, default_value_t = 0)]
        audit_rows: u64,
    },
    /// S10: the job queue with no-op jobs; prints JSON.
    Jobs {
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
    /// Serve the floors: a static handler without middleware, and S1's Fortunes page
    /// through the full stack.
    Floor {
        #[arg(long, default_value = "127.0.0.1:3901")]
        bind: SocketAddr,
    },
    /// The rate limiter under a flood spread over many addresses (the limiter as it is and
    /// the design it replaced); prints JSON.
    RateLimit {
        #[arg(long, default_value_t = 200_000)]
        addresses: u32,
        #[arg(long, default_value_t = 5)]
        seconds: i64,
    },
    /// `worker`, also working the benchmark and test job kinds (probe, noop), for the
    /// crash and shutdown tests of the real process.
    Worker,
}

impl BenchCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Seed { .. } => "bench seed",
            Self::Jobs { .. } => "bench jobs",
            Self::Floor { .. } => "bench floor",
            Self::RateLimit { .. } => "bench rate-limit",
            Self::Worker => "bench worker",
        }
    }
}

pub(crate) async fn bench_command(command: BenchCommand, config: Config) -> anyhow::Result<()> {
    anyhow::ensure!(!config.is_production(), "{} refuses to run with LOCKDEV_ENV=production", command.name());
    match command {
        BenchCommand::Seed { organizations, patients_per_org, audit_rows } => {
            let owner = db::owner_pool(config.database.migration_url()?)
                .await
                .context("connecting as the owner role")?;
            let key = crate::crypto::DataKey::new(config.auth.data_key.expose());
            let summary = crate::bench::data::seed(&owner, &key, organizations, patients_per_org).await?;
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
                    crate::bench::data::seed_audit(&owner, organizations, patients_per_org, audit_rows)
                        .await?;
                let seconds = started.elapsed().as_secs_f64();
                println!(
                    "audit events: {written} appended in {seconds:.1} s ({:.0} rows/s)",
                    written as f64 / seconds.max(0.001)
                );
            }
        }
        BenchCommand::Jobs { jobs, workers, batch, latency_samples } => {
            let database = crate::config::DatabaseConfig {
                max_connections: (workers as u32 + 2).max(config.database.max_connections),
                ..config.database.clone()
            };
            let pool = db::runtime_pool(&database)?;
            let out = match latency_samples {
                Some(samples) => {
                    let millis = crate::bench::jobs::latency(&pool, samples).await?;
                    let at = |q: f64| millis.get(((millis.len() as f64 - 1.0) * q).round() as usize).copied();
                    serde_json::json!({ "samples": millis.len(), "p50_ms": at(0.5), "p99_ms": at(0.99) })
                }
                None => {
                    serde_json::to_value(crate::bench::jobs::throughput(&pool, jobs, workers, batch).await?)?
                }
            };
            println!("{out}");
        }
        BenchCommand::Floor { bind } => serve::bench_floor(bind, config).await?,
        BenchCommand::RateLimit { addresses, seconds } => {
            println!("{}", serde_json::to_value(crate::bench::rate_limit::flood(addresses, seconds))?);
        }
        BenchCommand::Worker => serve::worker_only(config, serve::Kinds::WithProbes).await?,
    }
    Ok(())
}
