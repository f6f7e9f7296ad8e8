//! The session store: tower-sessions' `SessionStore` over our `tower_sessions.session`
//! table.
//!
//! Why our own: the packaged store turns on sqlx's `time` feature, which makes every
//! compile-time-checked `timestamptz` in the application decode as `time::OffsetDateTime`
//! instead of the `chrono` types the rest of the code uses; and it would keep what we
//! must not keep. The trait is small; one load is one indexed query, and an unmodified
//! session is never written.
//!
//! - **Ids are stored hashed** ([`digest`]): the row's key is the SHA-256 of the cookie's
//!   id, and the msgpack data holds only the session's values (not the record with its
//!   id), so a copy of the table signs no one in.
//! - **A deleted session stays deleted**: saving an existing session only updates it. A
//!   request still in flight when "sign out everywhere" (or sign-out, or a password
//!   change) deleted its session cannot bring the session back by saving; only a new
//!   session (no id yet, or a cycled id) is created.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::PgPool;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::db::errors::{is_unavailable, sqlx_variant};

/// How a session id is stored and looked up: SHA-256, hex.
pub fn digest(id: &str) -> String {
    use sha2::{Digest as _, Sha256};
    Sha256::digest(id.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The key under which a record holds the application's values (`session::SessionData`).
pub(crate) const DATA_KEY: &str = "lockdev";

/// Under this key a loaded record carries the [`Account`] its row's person stood in when
/// it was read; it is never written back (see [`encode`]).
pub(crate) const ACCOUNT_KEY: &str = "lockdev.account";

/// The standing of a session's person, read with the session in its one query: routes
/// outside a clinic (account, context picker, platform pages) re-check it on every request
/// without asking the database again.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    /// Neither disabled nor deleted. `false` also when the row names no person although
    /// its data does (a row written before the column existed): unknown is closed.
    pub open: bool,
    /// The platform roles the person holds now (`platform_roles.role`, unrevoked).
    pub platform_roles: Vec<String>,
}

/// A record as stored: its values (msgpack, without the id and without the loaded
/// [`Account`]) and the person it signs in, if any (for the row's `user_id`).
fn encode(record: &Record) -> session_store::Result<(Vec<u8>, Option<uuid::Uuid>)> {
    let mut data = record.data.clone();
    data.remove(ACCOUNT_KEY);
    let bytes = rmp_serde::to_vec(&data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    Ok((bytes, person_named(&data)))
}

/// The person a session's values sign in (`SessionData::user`), if any.
fn person_named(data: &HashMap<String, serde_json::Value>) -> Option<uuid::Uuid> {
    let id = data.get(DATA_KEY)?.get("user")?.get("user_id")?.as_str()?;
    id.parse::<crate::db::ids::UserId>().ok().map(|id| id.as_uuid())
}

/// A loaded row: values, expiry (Unix seconds), and its person's standing.
struct Loaded {
    data: Vec<u8>,
    expiry: i64,
    person: Option<uuid::Uuid>,
    account: Account,
}

#[derive(Clone, Debug)]
pub(crate) struct PostgresSessionStore {
    pool: PgPool,
}

impl PostgresSessionStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The session whose id hashes to `id`, with its person's standing. One query, outside
    /// any clinic: people and platform roles are visible there (platform work).
    async fn load_data(&self, id: String) -> session_store::Result<Option<Loaded>> {
        sqlx::query!(
            r#"SELECT s.data, extract(epoch FROM s.expiry_date)::bigint AS "expiry!", s.user_id,
                      coalesce(u.disabled_at IS NULL AND u.deleted_at IS NULL, false) AS "open!",
                      array(SELECT r.role FROM platform_roles r
                             WHERE r.user_id = s.user_id AND r.revoked_at IS NULL ORDER BY r.role) AS "platform_roles!"
                 FROM tower_sessions.session s LEFT JOIN users u ON u.id = s.user_id
                WHERE s.id = $1 AND s.expiry_date > now()"#,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map(|row| {
            row.map(|r| Loaded {
                data: r.data,
                expiry: r.expiry,
                person: r.user_id,
                account: Account { open: r.open, platform_roles: r.platform_roles },
            })
        })
        .map_err(backend)
    }
}

/// The text of a store error whose database was unavailable. Store errors never carry the
/// driver's own message (a Postgres message can quote values).
pub(crate) const UNAVAILABLE: &str = "database unavailable";

tokio::task_local! {
    /// Set when this request's session store found the database unavailable.
    static STORE_UNAVAILABLE: Cell<bool>;
}

#[allow(clippy::needless_pass_by_value)] // used as a map_err function
fn backend(error: sqlx::Error) -> session_store::Error {
    if is_unavailable(&error) {
        // Outside `noting_unavailable` (a test calling the store directly) nobody asks.
        let _ = STORE_UNAVAILABLE.try_with(|flag| flag.set(true));
        session_store::Error::Backend(UNAVAILABLE.to_owned())
    } else {
        session_store::Error::Backend(format!("database error ({})", sqlx_variant(&error)))
    }
}

/// The session writes of a step that must commit with its transaction (see [`deferring`]).
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    /// Digests of the ids to delete (the session's old id, when cycled).
    pub deleted: Vec<String>,
    /// The new record.
    pub created: Option<NewRow>,
}

/// A session row to insert: digest of its id, stored values, expiry, person.
#[derive(Debug)]
pub(crate) struct NewRow {
    id: String,
    data: Vec<u8>,
    expiry: chrono::DateTime<chrono::Utc>,
    person: Option<uuid::Uuid>,
}

tokio::task_local! {
    /// While set, the writes the session layer would make through the pool are kept here
    /// instead, for the caller to make in its own transaction.
    static DEFERRED: RefCell<Deferred>;
}

/// Runs `work` (cycling a session's id and saving it) with the store's writes kept aside
/// rather than made: a sign-in step writes them in its own transaction, so the session
/// exists only if the step commits (with its index entry and audit event) and the step
/// holds one pooled connection, not two.
pub(crate) async fn deferring<T>(work: impl Future<Output = T>) -> (T, Deferred) {
    DEFERRED
        .scope(RefCell::new(Deferred::default()), async {
            let output = work.await;
            (output, DEFERRED.with(|deferred| std::mem::take(&mut *deferred.borrow_mut())))
        })
        .await
}

/// Runs `request` and says whether the session store found the database unavailable on
/// the way: when saving a session fails, the session layer answers a bare 500 of its own,
/// and only this tells that it was the database being away (a 503), not a fault.
pub async fn noting_unavailable<T>(request: impl Future<Output = T>) -> (T, bool) {
    STORE_UNAVAILABLE
        .scope(Cell::new(false), async {
            let output = request.await;
            (output, STORE_UNAVAILABLE.with(Cell::get))
        })
        .await
}

fn chrono_time(t: OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or_default()
}

/// Makes a step's deferred session writes in its transaction.
pub(crate) async fn apply(conn: &mut sqlx::PgConnection, deferred: Deferred) -> Result<(), sqlx::Error> {
    if !deferred.deleted.is_empty() {
        sqlx::query!("DELETE FROM tower_sessions.session WHERE id = ANY($1)", &deferred.deleted)
            .execute(&mut *conn)
            .await?;
    }
    if let Some(NewRow { id, data, expiry, person }) = deferred.created {
        sqlx::query!(
            "INSERT INTO tower_sessions.session (id, data, expiry_date, user_id) VALUES ($1, $2, $3, $4)",
            id,
            data,
            expiry,
            person
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl SessionStore for PostgresSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (data, person) = encode(record)?;
        let digest_id = digest(&record.id.to_string());
        let expiry = chrono_time(record.expiry_date);
        let kept = DEFERRED.try_with(|deferred| {
            deferred.borrow_mut().created =
                Some(NewRow { id: digest_id, data: data.clone(), expiry, person });
        });
        if kept.is_ok() {
            return Ok(());
        }
        // A collision of 128 random bits is astronomically unlikely; regenerate if it happens.
        loop {
            let inserted = sqlx::query!(
                "INSERT INTO tower_sessions.session (id, data, expiry_date, user_id) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO NOTHING",
                digest(&record.id.to_string()),
                &data,
                chrono_time(record.expiry_date),
                person
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

    /// Updates an existing session only (see the module documentation): a session deleted
    /// meanwhile stays deleted, and this request's cookie names nothing any more.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, person) = encode(record)?;
        sqlx::query!(
            "UPDATE tower_sessions.session SET data = $2, expiry_date = $3, user_id = $4 WHERE id = $1",
            digest(&record.id.to_string()),
            data,
            chrono_time(record.expiry_date),
            person
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(loaded) = self.load_data(digest(&id.to_string())).await? else { return Ok(None) };
        let mut data: HashMap<String, serde_json::Value> =
            rmp_serde::from_slice(&loaded.data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(loaded.expiry)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        // A row whose column does not name the person its values sign in is read as closed
        // (see `Account::open`).
        let named = person_named(&data);
        let account =
            if named.is_some() && loaded.person == named { loaded.account } else { Account::default() };
        let account =
            serde_json::to_value(account).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        data.insert(ACCOUNT_KEY.to_owned(), account);
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let digest_id = digest(&id.to_string());
        if DEFERRED.try_with(|deferred| deferred.borrow_mut().deleted.push(digest_id.clone())).is_ok() {
            return Ok(());
        }
        sqlx::query!("DELETE FROM tower_sessions.session WHERE id = $1", digest_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
