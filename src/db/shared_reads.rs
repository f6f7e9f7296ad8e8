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
//! TLS is not wired here yet: when the database URL asks for it (production requires
//! `verify-full`), [`SharedReads::from_config`] returns `None` and every read goes
//! through the pool as before.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::config::DatabaseConfig;

/// One connection per core: enough to keep the database's cores busy, few enough that
/// each carries a pipeline.
fn connection_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

pub struct SharedReads {
    config: tokio_postgres::Config,
    slots: Vec<Slot>,
    next: AtomicUsize,
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
    /// URL is missing or asks for TLS (see the module documentation). Connects lazily.
    pub fn from_config(config: &DatabaseConfig) -> Option<Arc<Self>> {
        let url = config.runtime_url().ok()?;
        let options = PgConnectOptions::from_str(url.expose()).ok()?;
        if !matches!(options.get_ssl_mode(), PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer) {
            tracing::info!("shared reads off: the database URL asks for TLS; reads use the pool");
            return None;
        }
        let Ok(mut pg) = tokio_postgres::Config::from_str(url.expose()) else {
            tracing::info!(
                "shared reads off: the database URL has options they do not know; reads use the pool"
            );
            return None;
        };
        pg.application_name("lockdev-reads")
            .ssl_mode(tokio_postgres::config::SslMode::Disable)
            // A database that does not answer holds the requests waiting on this slot no
            // longer than the pool would hold them for a connection; then they use the pool.
            .connect_timeout(config.acquire_timeout)
            // The same guards as the pool (see `runtime_pool`).
            .options(format!(
                "-c jit=off -c max_parallel_workers_per_gather=0 -c statement_timeout={}",
                config.statement_timeout.as_millis()
            ));
        let slots = (0..connection_count()).map(|_| Slot::default()).collect();
        Some(Arc::new(Self { config: pg, slots, next: AtomicUsize::new(0) }))
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
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(error.kind = "shared_reads", %error, "shared read connection ended");
            }
        });
        let live = Arc::new(Live { client, prepared: Mutex::new(HashMap::new()) });
        *lock(&slot.live) = Some(live.clone());
        Ok(live)
    }
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
