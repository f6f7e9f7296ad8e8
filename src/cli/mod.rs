//! The `lockdev` command: serve, work jobs, migrate, seed, check the configuration, look
//! after the job queue and the audit chain. `main.rs` only calls [`main`].

mod bench;
pub mod demo;
mod maintenance;
mod serve;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::db::ids::{JobId, OrganizationId};
use crate::{db, telemetry};

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
    /// Validate the configuration and print it with secrets hidden.
    CheckConfig,
    /// Exit 0 when `/health` on the configured address answers 200 (container health checks).
    Healthcheck,
    /// People's accounts (until the platform console has a page for it).
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// The audit log's hash chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The benchmarks' own commands (data, floors, probes). Never in production.
    #[command(hide = true)]
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
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

#[derive(Subcommand)]
enum AccountsCommand {
    /// Disable an account: it can no longer sign in (password or passkey), and every
    /// session it has ends now. Recorded in the audit log with the reason.
    Disable {
        /// The account's e-mail address.
        #[arg(long)]
        email: String,
        /// Why (kept in the audit log; no patient data).
        #[arg(long)]
        reason: String,
    },
}

/// Parses the command line, reads the configuration, starts logging and runs the command.
pub fn main() -> ExitCode {
    crate::integrations::install_tls_provider();
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
            match error.downcast_ref::<crate::config::ConfigError>() {
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
        Command::Serve => serve::serve(config).await?,
        Command::Worker => serve::worker_only(config, serve::Kinds::Production).await?,
        Command::Jobs { command } => return maintenance::jobs_command(command, &config).await,
        Command::Bench { command } => bench::bench_command(command, config).await?,
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
            let key = crate::crypto::DataKey::new(config.auth.data_key.expose());
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
        Command::Healthcheck => return serve::healthcheck(config.http.bind).await,
        Command::Audit { command } => return maintenance::audit_command(command, &config).await,
        Command::Accounts { command } => return maintenance::accounts_command(command, &config).await,
    }
    Ok(ExitCode::SUCCESS)
}
