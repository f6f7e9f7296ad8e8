//! Database access: the runtime pool, the owner connection for migrations, and the
//! health queries.
//!
//! Two roles, two purposes. Requests and jobs use the *runtime* role, which owns no table
//! and cannot bypass row-level security; `lockdev migrate` and `lockdev seed-demo` use the
//! *owner* role. Handlers never see a pool directly (they get a tenant transaction, added
//! with the tenancy work); clippy's `disallowed-methods` keeps `Pool::begin` and
//! `Pool::acquire` inside this module.

pub mod errors;
pub mod ids;
pub mod tenant;

use std::str::FromStr;

use sqlx::Connection as _;
use sqlx::PgConnection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::{DatabaseConfig, Secret};

/// Every migration in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A pooled connection idle this long is checked (one round trip) before it is used.
const IDLE_BEFORE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Shown in `pg_stat_activity`, so an operator can tell our connections apart.
const APPLICATION_NAME: &str = "lockdev";

/// The runtime pool. Connections open lazily, so the server starts (and `/health`
/// answers) while the database is still coming up; `/health/deep` tells the difference.
pub fn runtime_pool(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let url = config.runtime_url()?;
    // Requests are short statements: JIT compilation (hundreds of milliseconds when the
    // planner over-estimates a search) never pays for itself here, and no statement may
    // run longer than the configured limit.
    // A zero limit (maintenance commands) means none. Parallel workers are off for the
    // same reason as JIT: under concurrent requests they only add start-up cost.
    let options = connect_options(url)?.options([
        ("jit", "off".to_owned()),
        ("max_parallel_workers_per_gather", "0".to_owned()),
        ("statement_timeout", config.statement_timeout.as_millis().to_string()),
    ]);
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(0)
        .acquire_timeout(config.acquire_timeout)
        // A connection that died while idle (database restart) is replaced, not handed out.
        // Checking costs a round trip, so only connections idle for a while are checked:
        // under load a connection goes back out within milliseconds, and a round trip
        // saved per acquire is a tenth of a page's database time.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_BEFORE_CHECK {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options))
}

/// A small pool of its own (runtime role) for the development channels (mailbox and
/// phone outbox). They stand in for outside services, which a job calls while holding its
/// own transaction: on the application's pool, four jobs sending at once could hold every
/// connection and wait forever for a fifth.
pub(crate) fn development_channel_pool(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let options = connect_options(config.runtime_url()?)?;
    Ok(PgPoolOptions::new()
        .max_connections(2)
        .min_connections(0)
        .acquire_timeout(config.acquire_timeout)
        .connect_lazy_with(options))
}

/// A small pool as the owner role, for migrations and seeding only.
pub async fn owner_pool(url: &Secret<String>) -> anyhow::Result<PgPool> {
    let options = connect_options(url)?.application_name("lockdev-migrate");
    Ok(PgPoolOptions::new().max_connections(2).connect_with(options).await?)
}

fn connect_options(url: &Secret<String>) -> anyhow::Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url.expose())?.application_name(APPLICATION_NAME))
}

/// Applies every pending migration as the owner role.
pub async fn migrate(owner: &PgPool) -> anyhow::Result<usize> {
    let before = applied_versions(owner).await.unwrap_or_default().len();
    MIGRATOR.run(owner).await?;
    let after = applied_versions(owner).await?.len();
    Ok(after.saturating_sub(before))
}

async fn applied_versions(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
}

/// How the database's applied migrations compare with the ones in this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MigrationStatus {
    pub applied: usize,
    /// Known to the binary, not yet applied.
    pub pending: Vec<i64>,
    /// Applied with a different checksum than the binary's copy, or applied but failed.
    pub mismatched: Vec<i64>,
    /// Applied in the database but unknown to this binary (an older binary on a newer schema).
    pub unknown: Vec<i64>,
}

impl MigrationStatus {
    pub(crate) fn is_current(&self) -> bool {
        self.pending.is_empty() && self.mismatched.is_empty() && self.unknown.is_empty()
    }
}

pub(crate) async fn migration_status(conn: &mut PgConnection) -> Result<MigrationStatus, sqlx::Error> {
    let rows = sqlx::query!("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(conn)
        .await?;
    let mut status = MigrationStatus { applied: 0, pending: vec![], mismatched: vec![], unknown: vec![] };
    for migration in MIGRATOR.iter() {
        match rows.iter().find(|r| r.version == migration.version) {
            None => status.pending.push(migration.version),
            Some(row) if !row.success || row.checksum != *migration.checksum => {
                status.mismatched.push(migration.version);
            }
            Some(_) => status.applied += 1,
        }
    }
    status.unknown =
        rows.iter().filter(|r| !MIGRATOR.iter().any(|m| m.version == r.version)).map(|r| r.version).collect();
    Ok(status)
}

/// The runtime role's powers that would defeat row-level security.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleCheck {
    pub role: String,
    pub superuser: bool,
    pub bypass_rls: bool,
    /// Relations in this database owned by the role or a role whose privileges it inherits
    /// (owners bypass row-level security unless it is forced).
    pub owned_relations: i64,
}

impl RoleCheck {
    pub(crate) fn is_safe(&self) -> bool {
        !self.superuser && !self.bypass_rls && self.owned_relations == 0
    }
}

pub(crate) async fn runtime_role_check(conn: &mut PgConnection) -> Result<RoleCheck, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT r.rolname AS "role!",
                  r.rolsuper AS "superuser!",
                  r.rolbypassrls AS "bypass_rls!",
                  (SELECT count(*) FROM pg_class c WHERE pg_has_role(r.oid, c.relowner, 'USAGE')) AS "owned_relations!"
             FROM pg_roles r
            WHERE r.rolname = current_user"#
    )
    .fetch_one(conn)
    .await?;
    Ok(RoleCheck {
        role: row.role,
        superuser: row.superuser,
        bypass_rls: row.bypass_rls,
        owned_relations: row.owned_relations,
    })
}
