//! `SystemTx`: the way a handler does platform work (sign-in, the account page,
//! invitations, choosing a context) — work that belongs to a person, not to one clinic.
//!
//! Like [`TenantTx`](super::TenantTx) it is an extractor and the only door to the
//! database, but with two differences that platform work needs:
//!
//! - **The commit is explicit.** A failed sign-in answers 422 and must still keep its
//!   throttle counter and its audit event, so the status of the response cannot decide;
//!   the handler calls [`SystemTx::commit`] when its work is complete. Dropped without a
//!   commit, the transaction rolls back.
//! - **It opens lazily.** No connection is taken until the first statement, so a handler
//!   can hash a password (tens of milliseconds, perhaps queued behind a sign-in storm)
//!   before it holds a pooled connection, and then do all its writes in one transaction.
//!
//! No tenant is set, so tenant tables show nothing; the person's own rows become visible
//! once [`SystemTx::set_user`] names them (from the session, or from the account a
//! sign-in just matched). Work for one clinic inside it goes through
//! [`crate::db::tenant::scoped`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::audit::{self, AuditEvent};
use crate::db::ids::UserId;
use crate::db::tenant::{RequestMeta, SystemContext, begin_system, set_user};
use crate::error::AppResult;
use crate::web::AppState;
use crate::web::authenticate::Authenticated;
use crate::web::tenant_tx::request_meta;

pub struct SystemTx {
    pool: PgPool,
    context: SystemContext,
    tx: Option<Transaction<'static, Postgres>>,
    now: DateTime<Utc>,
}

impl FromRequestParts<AppState> for SystemTx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user_id = parts.extensions.get::<Authenticated>().map(|a| a.user_id);
        let request = request_meta(&parts.extensions, &parts.headers);
        Ok(Self {
            pool: state.db.clone(),
            context: SystemContext { user_id, request },
            tx: None,
            now: state.clock.now(),
        })
    }
}

impl SystemTx {
    /// The connection, beginning the transaction if none is open.
    pub async fn conn(&mut self) -> AppResult<&mut PgConnection> {
        let tx = match &mut self.tx {
            Some(tx) => tx,
            none => none.insert(begin_system(&self.pool, &self.context).await?),
        };
        Ok(&mut **tx)
    }

    /// The person the work is for (their own rows become visible), for the rest of the
    /// request: a sign-in learns who it is for only after matching the address.
    pub(crate) async fn set_user(&mut self, user: Option<UserId>) -> AppResult<()> {
        self.context.user_id = user;
        if let Some(tx) = self.tx.as_mut() {
            set_user(tx, user).await?;
        }
        Ok(())
    }

    pub fn user(&self) -> Option<UserId> {
        self.context.user_id
    }

    /// Where the request came from, for audit.
    pub fn request(&self) -> &RequestMeta {
        &self.context.request
    }

    /// The request's time, from the application clock (tests move it).
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Appends a platform audit event (no clinic) in this transaction.
    pub async fn audit(&mut self, event: &AuditEvent) -> AppResult<()> {
        let context = self.context.clone();
        audit::record_platform(self.conn().await?, &context, event).await?;
        Ok(())
    }

    /// Commits what was done so far. A later statement opens a new transaction.
    pub async fn commit(&mut self) -> AppResult<()> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
        }
        Ok(())
    }

    /// A transaction of the same kind that outlives the request, for work done after
    /// the answer is sent (a reset link is looked up and mailed after the page, so the
    /// page's timing says nothing about the address).
    pub(crate) fn detached(&self) -> Self {
        Self { pool: self.pool.clone(), context: self.context.clone(), tx: None, now: self.now }
    }
}
