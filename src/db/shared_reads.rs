//! Shared reads: a few connections that every request shares for single autocommit
//! statements outside any tenant (the session lookup each signed-in request starts with,
//! the benchmark's Fortunes page).
//!
//! Why not the pool: a pooled read takes a connection for one statement, the driver
//! writes and waits for it alone, and the pool checks the connection again when it comes
//! back. Here concurrent requests' statements are pipelined on one connection (tokio-postgres
//! writes them back to back and matches the answers in order), so under load one server
//! wake-up answers many requests. Measured on the Fortunes page: 10k → 16.7k pages a
//! second on this 2-core machine.
//!
//! What may go here: one statement, no transaction, no tenant setting (row-level security
//! shows these connections platform rows only, as in [`super::tenant::begin_system`]), and
//! nothing that writes. A connection that died (database restart) is replaced on the next
//! use; a statement that fails on the way returns the error, and callers fall back to the
//! pool so a restart never costs a request.
//!
//! TLS: `sslmode=verify-full` (what production requires) is honoured with the same roots
//! as the pool (see [`super::verified_tls`]). A mode that encrypts without verifying
//! (`require`, `verify-ca`) or a client certificate is not offered here: then
//! [`SharedReads::from_config`] returns `None` and every read goes through the pool.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::SslMode;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Socket, Statement};

use crate::config::DatabaseConfig;
use crate::db::verified_tls::VerifiedTls;

/// One connection per core: enough to keep the database's cores busy, few enough that
/// each carries a pipeline.
fn connection_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

pub struct SharedReads {
    config: tokio_postgres::Config,
    transport: Transport,
    slots: Vec<Slot>,
    next: AtomicUsize,
}

/// How the connections reach the database.
enum Transport {
    /// The URL asks for no TLS, or prefers it without requiring it (local development).
    Plain,
    /// `sslmode=verify-full`.
    Verified(VerifiedTls),
}

#[derive(Default)]
struct Slot {
    /// The live connection, if any. A plain mutex: it is held only to clone the `Arc`.
    live: Mutex<Option<Arc<Live>>>,
    /// Serialises reconnecting, so a burst after a restart opens one connection, not one
    /// per waiting request.
    connecting: tokio::sync::Mutex<()>,
}

struct Live {
    client: Client,
    /// Statements prepared on this connection, by their text.
    prepared: Mutex<HashMap<&'static str, Statement>>,
}

impl std::fmt::Debug for SharedReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedReads").field("connections", &self.slots.len()).finish_non_exhaustive()
    }
}

impl SharedReads {
    /// Shared reads as the runtime role, with the pool's session settings. `None` when the
    /// URL is missing or asks for something they do not offer (see the module
    /// documentation). Connects lazily.
    pub fn from_config(config: &DatabaseConfig) -> Option<Arc<Self>> {
        if !config.shared_reads {
            tracing::info!(reason = "switched off", "shared reads off; reads use the pool");
            return None;
        }
        let url = config.runtime_url().ok()?;
        let from_environment = TlsDefaults {
            mode: std::env::var("PGSSLMODE").ok(),
            root_file: std::env::var("PGSSLROOTCERT").ok(),
        };
        let (mut pg, transport) = match connection_settings(url.expose(), from_environment) {
            Ok(settings) => settings,
            Err(reason) => {
                tracing::info!(reason, "shared reads off; reads use the pool");
                return None;
            }
        };
        pg.application_name("lockdev-reads")
            // A database that does not answer holds the requests waiting on this slot no
            // longer than the pool would hold them for a connection; then they use the pool.
            .connect_timeout(config.acquire_timeout)
            // The same guards as the pool (see `runtime_pool`).
            .options(format!(
                "-c jit=off -c max_parallel_workers_per_gather=0 -c statement_timeout={}",
                config.statement_timeout.as_millis()
            ));
        let slots = (0..connection_count()).map(|_| Slot::default()).collect();
        Some(Arc::new(Self { config: pg, transport, slots, next: AtomicUsize::new(0) }))
    }

    /// Runs `sql` (prepared once per connection) with `params`; all its rows.
    pub async fn query(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let live = self.live(slot).await?;
        let cached = lock(&live.prepared).get(sql).cloned();
        let statement = match cached {
            Some(statement) => statement,
            None => {
                let statement = live.client.prepare(sql).await?;
                lock(&live.prepared).insert(sql, statement.clone());
                statement
            }
        };
        live.client.query(&statement, params).await
    }

    async fn live(&self, slot: &Slot) -> Result<Arc<Live>, tokio_postgres::Error> {
        if let Some(live) = current(slot) {
            return Ok(live);
        }
        let _connecting = slot.connecting.lock().await;
        if let Some(live) = current(slot) {
            return Ok(live);
        }
        let client = match &self.transport {
            Transport::Plain => {
                let (client, connection) = self.config.connect(NoTls).await?;
                drive(connection);
                client
            }
            Transport::Verified(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                drive(connection);
                client
            }
        };
        let live = Arc::new(Live { client, prepared: Mutex::new(HashMap::new()) });
        *lock(&slot.live) = Some(live.clone());
        Ok(live)
    }
}

/// Runs a connection's protocol on a task of its own until the connection ends.
fn drive<T>(connection: tokio_postgres::Connection<Socket, T>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(error.kind = "shared_reads", %error, "shared read connection ended");
        }
    });
}

/// TLS settings a URL without its own takes from the environment (`PGSSLMODE`,
/// `PGSSLROOTCERT`), as the pool's driver does: the two paths must not differ in whether
/// they verify the server.
#[derive(Default)]
struct TlsDefaults {
    mode: Option<String>,
    root_file: Option<String>,
}

/// tokio-postgres settings and transport for the runtime role's URL. The TLS parameters
/// are taken out and honoured here (tokio-postgres knows neither `verify-full` nor
/// `sslrootcert`); everything else is left to tokio-postgres, which refuses what it does
/// not know. `Err`: why the shared reads stay off.
fn connection_settings(
    url: &str,
    defaults: TlsDefaults,
) -> Result<(tokio_postgres::Config, Transport), &'static str> {
    let mut parsed = url::Url::parse(url).map_err(|_| "the database URL does not parse")?;
    let mut mode = defaults.mode.unwrap_or_else(|| String::from("prefer"));
    let mut root_file = defaults.root_file;
    let mut rest = Vec::new();
    for (key, value) in parsed.query_pairs() {
        match &*key {
            "sslmode" => mode = value.into_owned(),
            "sslrootcert" => root_file = Some(value.into_owned()),
            "sslcert" | "sslkey" => return Err("the database URL names a client certificate"),
            _ => rest.push((key.into_owned(), value.into_owned())),
        }
    }
    if rest.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(rest);
    }
    let mut config = tokio_postgres::Config::from_str(parsed.as_str())
        .map_err(|_| "the database URL has options tokio-postgres does not know")?;
    let transport = match mode.as_str() {
        "disable" | "allow" | "prefer" => {
            config.ssl_mode(SslMode::Disable);
            Transport::Plain
        }
        "verify-full" => {
            config.ssl_mode(SslMode::Require);
            let tls = VerifiedTls::new(root_file.as_deref().map(std::path::Path::new)).map_err(|error| {
                tracing::warn!(%error, "the database root certificates are unusable");
                "the database root certificates are unusable"
            })?;
            Transport::Verified(tls)
        }
        _ => return Err("the database URL asks for TLS without full verification"),
    };
    Ok((config, transport))
}

/// The slot's connection while it is open.
fn current(slot: &Slot) -> Option<Arc<Live>> {
    lock(&slot.live).as_ref().filter(|live| !live.client.is_closed()).cloned()
}

/// A poisoned lock here only means another request panicked while holding it for a clone
/// or an insert; the data is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "postgres://app:pw@db.internal:5432/lockdev";

    #[test]
    fn verify_full_is_honoured_and_weaker_or_unknown_settings_turn_the_shared_reads_off() {
        assert!(matches!(connection_settings(BASE, TlsDefaults::default()), Ok((_, Transport::Plain))));
        assert!(matches!(
            connection_settings(&format!("{BASE}?sslmode=disable"), TlsDefaults::default()),
            Ok((_, Transport::Plain))
        ));
        assert!(matches!(
            connection_settings(&format!("{BASE}?sslmode=verify-full"), TlsDefaults::default()),
            Ok((_, Transport::Verified(_)))
        ));
        for refused in [
            "sslmode=require",
            "sslmode=verify-ca",
            "sslmode=verify-full&sslcert=/etc/client.crt",
            "sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
            "sslmode=verify-full&no_such_option=1",
        ] {
            assert!(
                connection_settings(&format!("{BASE}?{refused}"), TlsDefaults::default()).is_err(),
                "{refused}"
            );
        }
    }

    #[test]
    fn settings_other_than_tls_reach_tokio_postgres() {
        let (config, _) = connection_settings(
            &format!("{BASE}?sslmode=verify-full&connect_timeout=3"),
            TlsDefaults::default(),
        )
        .expect("accepted");
        assert_eq!(config.get_connect_timeout(), Some(&std::time::Duration::from_secs(3)));
        assert_eq!(config.get_dbname(), Some("lockdev"));
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn a_url_without_tls_settings_takes_them_from_the_environment_like_the_pool() {
        let asked = |mode: &str| TlsDefaults { mode: Some(mode.into()), root_file: None };
        assert!(matches!(connection_settings(BASE, asked("verify-full")), Ok((_, Transport::Verified(_)))));
        assert!(connection_settings(BASE, asked("require")).is_err());
        // The URL's own setting wins over the environment's.
        assert!(matches!(
            connection_settings(&format!("{BASE}?sslmode=disable"), asked("verify-full")),
            Ok((_, Transport::Plain))
        ));
        let unreadable =
            TlsDefaults { mode: Some("verify-full".into()), root_file: Some("/nonexistent/root.crt".into()) };
        assert!(connection_settings(BASE, unreadable).is_err());
    }
}
