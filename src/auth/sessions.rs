//! Our index of each person's sessions (tower-sessions' table has no user column), so
//! that all of a person's sessions can be listed and ended: on password change or reset,
//! on a change of second factors, on account disable, and by "sign out my other sessions".

//!
//! Every function works in the caller's system transaction, so a change and its
//! consequences (a new password and the other sessions ended, with the audit event) are
//! one commit.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::auth::session_store::digest;
use crate::db::ids::UserId;
use crate::db::tenant::RequestMeta;

/// A person may be signed in on this many browsers and devices at once; signing in on one
/// more ends the oldest session.
pub const MAX_SESSIONS: i64 = 10;

/// Records that `session_id` belongs to `user` (after sign-in, under the new id), forgets
/// index entries whose sessions have ended on their own, and ends the oldest sessions
/// beyond [`MAX_SESSIONS`].
pub(crate) async fn remember(
    tx: &mut PgConnection,
    user: UserId,
    session_id: &str,
    request: &RequestMeta,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO user_sessions (session_id, user_id, ip, user_agent) VALUES ($1, $2, $3::text::inet, $4)
           ON CONFLICT (session_id) DO NOTHING"#,
        digest(session_id),
        user.as_uuid(),
        request.ip.map(|ip| ip.to_string()),
        request.user_agent.as_deref().map(|ua| &ua[..ua.len().min(500)])
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"DELETE FROM user_sessions u WHERE u.user_id = $1
             AND NOT EXISTS (SELECT 1 FROM tower_sessions.session s WHERE s.id = u.session_id)"#,
        user.as_uuid()
    )
    .execute(&mut *tx)
    .await?;
    let excess = sqlx::query_scalar!(
        "SELECT session_id FROM user_sessions WHERE user_id = $1 ORDER BY created_at DESC, session_id OFFSET $2",
        user.as_uuid(),
        MAX_SESSIONS
    )
    .fetch_all(&mut *tx)
    .await?;
    if !excess.is_empty() {
        sqlx::query!("DELETE FROM tower_sessions.session WHERE id = ANY($1)", &excess)
            .execute(&mut *tx)
            .await?;
        sqlx::query!("DELETE FROM user_sessions WHERE session_id = ANY($1)", &excess)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Disables an account: it can no longer sign in, every session it has ends, and every
/// link it was sent (reset, invitation, verification) stops working, in the same
/// transaction. Needs a transaction with no clinic set (the tokens of every clinic).
pub async fn disable_account(tx: &mut PgConnection, user: UserId) -> Result<u64, sqlx::Error> {
    sqlx::query!("UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1", user.as_uuid())
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "UPDATE auth_tokens SET revoked_at = now() WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL",
        user.as_uuid()
    )
    .execute(&mut *tx)
    .await?;
    end_all(tx, user, None).await
}

/// Removes one index entry (the session itself is already gone); a leftover entry points
/// at nothing and is removed at the next sign-in.
pub async fn forget(tx: &mut PgConnection, session_id: Option<String>) -> Result<(), sqlx::Error> {
    let Some(session_id) = session_id else { return Ok(()) };
    sqlx::query!("DELETE FROM user_sessions WHERE session_id = $1", digest(&session_id)).execute(tx).await?;
    Ok(())
}

/// Makes the transaction the only one changing `user`'s set of sessions until it ends.
///
/// Ending sessions and replacing one (a new id at the second factor, a context, a factor
/// change) race otherwise: a request already past its session check could cycle a
/// session that "sign out everywhere" is ending, and the new id would outlive it. With
/// both in line, either the ending sees the new session (and ends it) or the
/// replacement sees its session gone (and refuses).
pub(crate) async fn serialize(tx: &mut PgConnection, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('sessions of ' || $1::uuid::text, 0))",
        user.as_uuid()
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether the session with this id is still stored (not ended, not expired).
pub(crate) async fn still_open(tx: &mut PgConnection, session_id: &str) -> Result<bool, sqlx::Error> {
    let open = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM tower_sessions.session WHERE id = $1 AND expiry_date > now()) AS "open!""#,
        digest(session_id)
    )
    .fetch_one(tx)
    .await?;
    Ok(open)
}

/// Ends every session of `user` except `keep`; returns how many ended.
pub async fn end_all(tx: &mut PgConnection, user: UserId, keep: Option<&str>) -> Result<u64, sqlx::Error> {
    serialize(&mut *tx, user).await?;
    let keep = keep.map(digest);
    let ended = sqlx::query!(
        r#"DELETE FROM tower_sessions.session s USING user_sessions u
            WHERE u.session_id = s.id AND u.user_id = $1 AND u.session_id IS DISTINCT FROM $2"#,
        user.as_uuid(),
        keep
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query!(
        "DELETE FROM user_sessions WHERE user_id = $1 AND session_id IS DISTINCT FROM $2",
        user.as_uuid(),
        keep
    )
    .execute(&mut *tx)
    .await?;
    Ok(ended)
}

/// Ends one session of `user`, named by its stored digest (as [`list`] gives it); never
/// `keep` (the asking session). Whether one ended.
pub async fn end_one(
    tx: &mut PgConnection,
    user: UserId,
    stored: &str,
    keep: &str,
) -> Result<bool, sqlx::Error> {
    serialize(&mut *tx, user).await?;
    let keep = digest(keep);
    if stored == keep {
        return Ok(false);
    }
    let ended = sqlx::query!(
        r#"DELETE FROM tower_sessions.session s USING user_sessions u
            WHERE u.session_id = s.id AND u.user_id = $1 AND u.session_id = $2"#,
        user.as_uuid(),
        stored
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query!("DELETE FROM user_sessions WHERE user_id = $1 AND session_id = $2", user.as_uuid(), stored)
        .execute(&mut *tx)
        .await?;
    Ok(ended > 0)
}

/// One of a person's sessions, for the account page.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    /// The stored digest of the session's id (compare with [`digest`] of a known id).
    pub session_id: String,
    pub created_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub async fn list(tx: &mut PgConnection, user: UserId) -> Result<Vec<SessionSummary>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT u.session_id, u.created_at, host(u.ip) AS ip, u.user_agent
             FROM user_sessions u JOIN tower_sessions.session s ON s.id = u.session_id AND s.expiry_date > now()
            WHERE u.user_id = $1 ORDER BY u.created_at DESC"#,
        user.as_uuid()
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SessionSummary {
            session_id: r.session_id,
            created_at: r.created_at,
            ip: r.ip,
            user_agent: r.user_agent,
        })
        .collect())
}
