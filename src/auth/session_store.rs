//! The session store: tower-sessions' `SessionStore` over our `tower_sessions.session`
//! table, with the same layout and msgpack encoding as the packaged Postgres store.
//!
//! Why our own: the packaged store turns on sqlx's `time` feature, which makes every
//! compile-time-checked `timestamptz` in the application decode as `time::OffsetDateTime`
//! instead of the `chrono` types the rest of the code uses. The trait is small; one load
//! is one indexed query, and an unmodified session is never written.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::PgPool;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::db::shared_reads::SharedReads;

#[derive(Clone, Debug)]
pub struct PostgresSessionStore {
    pool: PgPool,
    /// Loads go here when there are shared reads (one pipelined statement, no pooled
    /// connection taken); writes always go through the pool.
    reads: Option<Arc<SharedReads>>,
}

impl PostgresSessionStore {
    pub fn new(pool: PgPool, reads: Option<Arc<SharedReads>>) -> Self {
        Self { pool, reads }
    }

    async fn load_data(&self, id: String) -> session_store::Result<Option<Vec<u8>>> {
        if let Some(reads) = &self.reads {
            match reads.query(LOAD, &[&id]).await {
                Ok(rows) => return rows.first().map(|row| row.try_get(0)).transpose().map_err(backend),
                // A connection lost to a database restart: the pool answers this one, and
                // the shared connection is replaced on its next use.
                Err(error) => {
                    tracing::warn!(error.kind = "shared_reads", %error, "session load falls back to the pool");
                }
            }
        }
        sqlx::query_scalar!(
            "SELECT data FROM tower_sessions.session WHERE id = $1 AND expiry_date > now()",
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)
    }
}

/// The load statement for the shared reads. It must stay the same text as the pool's
/// copy in `load_data`, which sqlx checks against the schema at compile time; this copy is
/// run against the real schema by `sessions::sessions_load_on_the_shared_reads_…`.
const LOAD: &str = "SELECT data FROM tower_sessions.session WHERE id = $1 AND expiry_date > now()";

fn backend(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn chrono_time(t: OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or_default()
}

#[async_trait]
impl SessionStore for PostgresSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = rmp_serde::to_vec(&record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        // A collision of 128 random bits is astronomically unlikely; regenerate if it happens.
        loop {
            let inserted = sqlx::query!(
                "INSERT INTO tower_sessions.session (id, data, expiry_date) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO NOTHING",
                record.id.to_string(),
                &data,
                chrono_time(record.expiry_date)
            )
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = rmp_serde::to_vec(&record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        sqlx::query!(
            "INSERT INTO tower_sessions.session (id, data, expiry_date) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry_date = excluded.expiry_date",
            record.id.to_string(),
            data,
            chrono_time(record.expiry_date)
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let data = self.load_data(id.to_string()).await?;
        data.map(|bytes| {
            rmp_serde::from_slice(&bytes).map_err(|e| session_store::Error::Decode(e.to_string()))
        })
        .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query!("DELETE FROM tower_sessions.session WHERE id = $1", id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
