//! Looking after the job queue, the audit chain and people's accounts.

use std::process::ExitCode;

use super::{AccountsCommand, AuditCommand, JobsCommand};
use crate::audit::chain::{self, Chain};
use crate::audit::{self, Action, AuditEvent, Outcome};
use crate::config::Config;
use crate::db;
use crate::db::ids::UserId;

pub(super) async fn audit_command(command: AuditCommand, config: &Config) -> anyhow::Result<ExitCode> {
    // Maintenance, not a request: it may wait for the server's sealer to finish a batch
    // (they share a per-chain lock), so the request statement limit does not apply.
    let database = crate::config::DatabaseConfig {
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
                let started = chrono::Utc::now();
                let report = chain::verify(&pool, chain).await?;
                chain::record_verification(&pool, &report, started, chrono::Utc::now(), None).await?;
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

pub(super) async fn jobs_command(command: JobsCommand, config: &Config) -> anyhow::Result<ExitCode> {
    use crate::jobs::queue;
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

fn print_jobs(jobs: &[crate::jobs::queue::JobRow]) {
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

pub(super) async fn ensure_audit_partitions(pool: &sqlx::PgPool) -> Result<i32, sqlx::Error> {
    let mut tx = db::tenant::begin_system(pool, &db::tenant::SystemContext::default()).await?;
    let created = audit::ensure_partitions(&mut tx, 3).await?;
    tx.commit().await?;
    Ok(created)
}

pub(super) async fn accounts_command(command: AccountsCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let AccountsCommand::Disable { email, reason } = command;
    let reason = reason.trim();
    anyhow::ensure!(!reason.is_empty(), "--reason: say why the account is disabled");
    let pool = db::runtime_pool(&config.database)?;
    // The event is the system's (no person is signed in here); the account's own rows
    // (its sessions) become visible once the transaction names it.
    let system = db::tenant::SystemContext::default();
    let mut tx = db::tenant::begin_system(&pool, &system).await?;
    let Some(user) =
        sqlx::query_scalar!(r#"SELECT id AS "id: UserId" FROM users WHERE email = $1"#, email.trim())
            .fetch_optional(&mut *tx)
            .await?
    else {
        println!("accounts: no account has that address");
        return Ok(ExitCode::FAILURE);
    };
    audit::record_platform(
        &mut tx,
        &system,
        &AuditEvent::new(Action::AccountDisabled, Outcome::Success)
            .resource("user", user)
            .details(serde_json::json!({ "reason": reason, "by": "command line" })),
    )
    .await?;
    db::tenant::set_user(&mut tx, Some(user)).await?;
    let ended = crate::auth::sessions::disable_account(&mut tx, user).await?;
    tx.commit().await?;
    println!("accounts: disabled {user}; {ended} session(s) ended");
    Ok(ExitCode::SUCCESS)
}
