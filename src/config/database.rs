//! `LOCKDEV_DATABASE_URL` (the runtime role), `LOCKDEV_MIGRATION_DATABASE_URL` (the
//! owner) and the runtime pool's limits.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

use super::parse::parse_in_range;
use super::{ConfigError, Secret};

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The runtime role: owns no table, has no BYPASSRLS. Every request uses it.
    pub runtime_url: Option<Secret<String>>,
    /// The owner role that runs migrations and seeds; never used to serve requests.
    pub migration_url: Option<Secret<String>>,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// The longest one statement of the runtime role may run (a pathological search is
    /// cancelled, not left holding a connection). Zero: no limit (maintenance commands).
    pub statement_timeout: Duration,
}

impl DatabaseConfig {
    pub fn runtime_url(&self) -> Result<&Secret<String>, ConfigError> {
        self.runtime_url.as_ref().ok_or_else(|| {
            ConfigError::new(
                "LOCKDEV_DATABASE_URL",
                "required: a postgres:// URL for the runtime role (no ownership, no BYPASSRLS)",
            )
        })
    }

    pub fn migration_url(&self) -> Result<&Secret<String>, ConfigError> {
        self.migration_url.as_ref().ok_or_else(|| {
            ConfigError::new(
                "LOCKDEV_MIGRATION_DATABASE_URL",
                "required for this command: a postgres:// URL for the owner role that runs migrations",
            )
        })
    }
}

/// The two database URLs and the runtime pool's limits.
pub(super) fn read(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
) -> Result<DatabaseConfig, ConfigError> {
    let runtime_url = database_url(get("LOCKDEV_DATABASE_URL"), "LOCKDEV_DATABASE_URL", production)?;
    let migration_url =
        database_url(get("LOCKDEV_MIGRATION_DATABASE_URL"), "LOCKDEV_MIGRATION_DATABASE_URL", production)?;
    let max_connections = parse_in_range(
        get("LOCKDEV_DB_MAX_CONNECTIONS"),
        "LOCKDEV_DB_MAX_CONNECTIONS",
        10,
        1..=500,
        "the size of the runtime connection pool",
    )?;
    let acquire_timeout = Duration::from_millis(parse_in_range(
        get("LOCKDEV_DB_ACQUIRE_TIMEOUT_MS"),
        "LOCKDEV_DB_ACQUIRE_TIMEOUT_MS",
        3000,
        50..=60_000,
        "milliseconds to wait for a pooled connection before answering 503",
    )?);
    let statement_timeout = Duration::from_millis(parse_in_range(
        get("LOCKDEV_DB_STATEMENT_TIMEOUT_MS"),
        "LOCKDEV_DB_STATEMENT_TIMEOUT_MS",
        5000,
        1..=600_000,
        "milliseconds one database statement of a request may run before it is cancelled",
    )?);
    Ok(DatabaseConfig { runtime_url, migration_url, max_connections, acquire_timeout, statement_timeout })
}

fn database_url(
    raw: Option<String>,
    variable: &'static str,
    production: bool,
) -> Result<Option<Secret<String>>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    // The URL holds a password: never include it in the message.
    let options = PgConnectOptions::from_str(&raw)
        .ok()
        .filter(|_| raw.starts_with("postgres://") || raw.starts_with("postgresql://"))
        .ok_or_else(|| {
            ConfigError::new(
                variable,
                "expected a URL such as postgres://user:password@host:5432/database (value not shown: it may hold a password)",
            )
        })?;
    if production && !matches!(options.get_ssl_mode(), sqlx::postgres::PgSslMode::VerifyFull) {
        return Err(ConfigError::new(
            variable,
            "must use ?sslmode=verify-full in production (TLS with a verified server certificate)",
        ));
    }
    Ok(Some(Secret::new(raw)))
}
