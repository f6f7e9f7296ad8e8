//! Test databases: a clone of the migrated template per test, a cluster of a test's own,
//! and connections for assertions.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr as _;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::Digest as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool};

use super::*;

pub(crate) const RUNTIME_URL: &str = "LOCKDEV_DATABASE_URL";
pub(crate) const OWNER_URL: &str = "LOCKDEV_MIGRATION_DATABASE_URL";

pub(crate) fn env_url(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `just test`, which starts a database and sets it")
    })
}

/// The test cluster's root certificate (scripts/pg.sh makes one per cluster).
pub fn test_database_ca() -> String {
    std::env::var("LOCKDEV_TEST_DATABASE_CA").unwrap_or_else(|_| {
        panic!(
            "LOCKDEV_TEST_DATABASE_CA is not set: run the tests with `just test`, whose cluster serves TLS"
        )
    })
}

/// `url` (no query yet) with TLS verified against the test cluster's root certificate.
pub fn verified_tls_url(url: &str) -> String {
    format!("{url}?sslmode=verify-full&sslrootcert={}", test_database_ca())
}

/// `url` pointing at database `name` instead.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{name}")
}

/// The migrated template every test database is cloned from.
async fn template_database(owner_url: &str) -> String {
    let mut digest = sha2::Sha256::new();
    for migration in lockdev::db::MIGRATOR.iter() {
        digest.update(migration.version.to_le_bytes());
        digest.update(&*migration.checksum);
    }
    let hash: String = digest.finalize()[..6].iter().map(|b| format!("{b:02x}")).collect();
    let template = format!("lockdev_tpl_{hash}");

    let mut admin =
        PgConnection::connect(&with_database(owner_url, "postgres")).await.expect("connect as owner");
    sqlx::query("SELECT pg_advisory_lock(7262021)").execute(&mut admin).await.expect("lock");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)")
        .bind(&template)
        .fetch_one(&mut admin)
        .await
        .expect("query pg_database");
    if !exists {
        // Build under a temporary name, rename when complete: a half-migrated template is
        // never visible to a concurrent test.
        let building = format!("{template}_building");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {building}")).execute(&mut admin).await.expect("drop");
        sqlx::query(&format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .await
            .expect("create template");
        let owner = PgPoolOptions::new()
            .max_connections(1)
            .connect(&with_database(owner_url, &building))
            .await
            .expect("connect to template");
        lockdev::db::migrate(&owner).await.expect("migrate template");
        owner.close().await;
        sqlx::query(&format!("ALTER DATABASE {building} RENAME TO {template}"))
            .execute(&mut admin)
            .await
            .expect("rename template");
        drop_stale_databases(&mut admin, &template).await;
    }
    sqlx::query("SELECT pg_advisory_unlock(7262021)").execute(&mut admin).await.expect("unlock");
    template
}

/// Outdated templates and test databases older than two hours (their ULID says when they
/// were made) would pile up on a long-lived development cluster.
async fn drop_stale_databases(admin: &mut PgConnection, current_template: &str) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'lockdev_tpl_%' OR datname LIKE 'lockdev_test_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    let cutoff = Utc::now() - TimeDelta::hours(2);
    for name in names {
        let stale = match name.strip_prefix("lockdev_test_") {
            Some(id) => ulid::Ulid::from_string(&id.to_uppercase())
                .map(|u| DateTime::<Utc>::from(u.datetime()) < cutoff)
                .unwrap_or(false),
            None => name != current_template,
        };
        if stale {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// A database of this test's own, migrated, empty.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    pub runtime_url: String,
    pub owner_url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let owner_url = env_url(OWNER_URL);
        let runtime_url = env_url(RUNTIME_URL);
        let template = template_database(&owner_url).await;
        let name = format!("lockdev_test_{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut admin = PgConnection::connect(&with_database(&owner_url, "postgres")).await.expect("connect");
        sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut admin)
            .await
            .expect("clone the template database");
        Self {
            runtime_url: with_database(&runtime_url, &name),
            owner_url: with_database(&owner_url, &name),
            name,
        }
    }

    /// A pool as the runtime role (what the application uses).
    pub async fn runtime_pool(&self) -> PgPool {
        PgPoolOptions::new().max_connections(2).connect(&self.runtime_url).await.expect("runtime pool")
    }

    /// A connection as a superuser (row-level security and privileges do not apply), for
    /// tests that play an attacker holding the keys.
    pub async fn superuser(&self) -> PgConnection {
        let url = std::env::var("LOCKDEV_TEST_SUPERUSER_URL")
            .expect("LOCKDEV_TEST_SUPERUSER_URL is not set: run the tests with `just test`");
        PgConnection::connect(&with_database(&url, &self.name)).await.expect("connect as superuser")
    }

    /// A pool as the owner role, for looking at what the app did from outside it.
    pub async fn owner_pool(&self) -> PgPool {
        PgPoolOptions::new().max_connections(2).connect(&self.owner_url).await.expect("owner pool")
    }
}

/// A PostgreSQL cluster of one test's own, for tests that stop and start the server.
pub struct DedicatedCluster {
    dir: PathBuf,
    pub runtime_url: String,
    pub owner_url: String,
}

impl DedicatedCluster {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("lockdev-cluster-{}", ulid::Ulid::new()));
        Self::pg(&["up", "--fast", "--dir"], &dir);
        let env = std::fs::read_to_string(dir.with_extension("env")).expect("cluster env file");
        let value = |key: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {key}=")))
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("{key} in the cluster env file"))
        };
        let cluster = Self { runtime_url: value(RUNTIME_URL), owner_url: value(OWNER_URL), dir };
        let owner = lockdev::db::owner_pool(&lockdev::config::Secret::new(cluster.owner_url.clone()))
            .await
            .expect("owner pool");
        lockdev::db::migrate(&owner).await.expect("migrate");
        owner.close().await;
        cluster
    }

    pub fn stop(&self) {
        Self::pg(&["down", "--dir"], &self.dir);
    }

    pub fn restart(&self) {
        Self::pg(&["up", "--dir"], &self.dir);
    }

    fn pg(args: &[&str], dir: &Path) {
        let output = Command::new(repo_root().join("scripts/pg.sh"))
            .args(args)
            .arg(dir)
            .output()
            .expect("run scripts/pg.sh");
        assert!(
            output.status.success(),
            "pg.sh {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for DedicatedCluster {
    fn drop(&mut self) {
        let _ =
            Command::new(repo_root().join("scripts/pg.sh")).args(["reset", "--dir"]).arg(&self.dir).output();
    }
}

/// Connects as the runtime role to `url`'s database, for assertions.
pub async fn connect(url: &str) -> PgConnection {
    PgConnection::connect_with(&PgConnectOptions::from_str(url).expect("url")).await.expect("connect")
}
