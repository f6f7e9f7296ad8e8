//! The `lockdev` command: serve, migrate, seed, check the configuration.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use lockdev::clock::SystemClock;
use lockdev::config::Config;
use lockdev::{AppState, db, demo, telemetry, web};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[derive(Parser)]
#[command(
    name = "lockdev",
    version,
    about = "Practice platform for clinics: one binary over PostgreSQL."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application until SIGTERM or Ctrl-C.
    Serve,
    /// Apply pending database migrations (as the owner role).
    Migrate,
    /// Load demonstration data; safe to run repeatedly.
    SeedDemo,
    /// Validate the configuration and print it with secrets hidden.
    CheckConfig,
    /// Exit 0 when `/health` on the configured address answers 200 (container health checks).
    Healthcheck,
    /// Serve the benchmark floor: one static handler, no middleware. Benchmarks only.
    #[command(hide = true)]
    BenchFloor {
        #[arg(long, default_value = "127.0.0.1:3901")]
        bind: SocketAddr,
    },
}

fn main() -> ExitCode {
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
            let summary = demo::seed(&owner).await?;
            if summary.created == 0 && summary.sign_ins.is_empty() {
                println!("demo data: nothing to create (no demo records are defined yet)");
            } else {
                println!("demo data: {} records created", summary.created);
                for sign_in in summary.sign_ins {
                    println!("  {sign_in}");
                }
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
            println!(
                "  database pool:    {} connections",
                config.database.max_connections
            );
            println!(
                "  migration url:    {}",
                if config.database.migration_url.is_some() {
                    "set"
                } else {
                    "not set"
                }
            );
            println!(
                "  log:              {:?} {}",
                config.log.format, config.log.filter
            );
        }
        Command::Healthcheck => return healthcheck(config.http.bind).await,
        Command::BenchFloor { bind } => bench_floor(bind).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::runtime_pool(&config.database)?;
    let bind = config.http.bind;
    let public_url = config.http.public_url.to_string();
    let state = AppState::new(config, pool.clone(), Arc::new(SystemClock));
    let app = lockdev::build_app(state);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    tracing::info!(listen = %listener.local_addr()?, url = %public_url, "listening");
    web::serve(listener, app, shutdown_signal()).await?;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
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
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<_, std::io::Error>(head.starts_with(b"HTTP/1.1 200"))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(3), probe).await {
        Ok(Ok(true)) => Ok(ExitCode::SUCCESS),
        _ => Ok(ExitCode::FAILURE),
    }
}

/// F_http of the benchmarks: the cheapest response this binary can give.
async fn bench_floor(bind: SocketAddr) -> anyhow::Result<()> {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(bind).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
