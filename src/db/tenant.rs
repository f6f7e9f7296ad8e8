//! Tenant and system transactions: the only ways work reaches the database.
//!
//! A tenant transaction belongs to one organization. Its first round trip is
//! `BEGIN; SELECT set_config(…, true), …` sent as one simple-protocol message, so the
//! tenant, the acting user, impersonation and break-glass are in place before the first
//! query at the cost of a single round trip, and — being transaction-local — vanish at
//! COMMIT or ROLLBACK: a pooled connection never carries one request's tenant into the
//! next.
//!
//! A system transaction has no tenant (`app.organization_id` is empty), so every tenant
//! table's policy lets nothing through; it serves platform-level work such as finding a
//! person by e-mail at sign-in.

use std::net::IpAddr;

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::db::ids::{OrganizationId, PatientId, UserId};

/// Who is acting, as recorded in audit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A person, signed in.
    User,
    /// A non-human client with an API token.
    Service,
    /// Lockdev itself (scheduled jobs, the sealer).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Service => "service",
            Self::System => "system",
        }
    }
}

/// Where a request came from, for audit events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// An emergency access grant: one patient, one organization, until it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakGlass {
    pub patient_id: PatientId,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Everything a tenant transaction is opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantContext {
    pub organization_id: OrganizationId,
    /// The signed-in person (or service account); `None` for system work.
    pub user_id: Option<UserId>,
    pub actor_kind: ActorKind,
    /// The role the context was entered with (`provider`, `patient`, `proxy`, …), for audit.
    pub role: Option<String>,
    /// While an administrator acts as someone else: the person acted for.
    pub acting_for: Option<UserId>,
    pub break_glass: Option<BreakGlass>,
    pub request: RequestMeta,
}

impl TenantContext {
    /// The person whose view and permissions apply: the member acted as while an
    /// administrator impersonates them, else the signed-in person. Records they make name
    /// this person; the audit log and row history name both.
    pub fn person(&self) -> Option<UserId> {
        self.acting_for.or(self.user_id)
    }

    /// System work for one organization (a job, the sealer).
    pub fn system(organization_id: OrganizationId) -> Self {
        Self {
            organization_id,
            user_id: None,
            actor_kind: ActorKind::System,
            role: None,
            acting_for: None,
            break_glass: None,
            request: RequestMeta::default(),
        }
    }

    /// A person's work in one organization from a request outside its tenant transaction
    /// (a platform page opening a clinic's scope, a context being entered or left).
    pub fn person_in(
        organization_id: OrganizationId,
        user: UserId,
        role: Option<String>,
        request: RequestMeta,
    ) -> Self {
        Self {
            user_id: Some(user),
            actor_kind: ActorKind::User,
            role,
            request,
            ..Self::system(organization_id)
        }
    }
}

/// Everything a system transaction is opened with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemContext {
    /// The person the work is for, once known (their own rows become visible).
    pub user_id: Option<UserId>,
    pub request: RequestMeta,
}

/// The statement that opens a transaction with these settings. Every value interpolated
/// here is a UUID (hex and dashes) or a fixed word: nothing a client chose as text.
fn begin_statement(
    organization: Option<OrganizationId>,
    user: Option<UserId>,
    acting_for: Option<UserId>,
    break_glass: bool,
) -> String {
    let text = |id: Option<uuid::Uuid>| id.map(|u| u.hyphenated().to_string()).unwrap_or_default();
    format!(
        "BEGIN; SELECT set_config('app.organization_id', '{}', true), set_config('app.user_id', '{}', true), \
         set_config('app.acting_for_user_id', '{}', true), set_config('app.break_glass', '{}', true)",
        text(organization.map(|o| o.as_uuid())),
        text(user.map(|u| u.as_uuid())),
        text(acting_for.map(|u| u.as_uuid())),
        if break_glass { "on" } else { "off" },
    )
}

/// Opens a transaction for `context`'s organization in one round trip.
pub async fn begin_tenant(
    pool: &PgPool,
    context: &TenantContext,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_to_completion(
        pool,
        begin_statement(
            Some(context.organization_id),
            context.user_id,
            context.acting_for,
            context.break_glass.is_some(),
        ),
    )
    .await
}

/// Opens a platform-level transaction: no tenant, so no tenant rows.
pub async fn begin_system(
    pool: &PgPool,
    context: &SystemContext,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_to_completion(pool, begin_statement(None, context.user_id, None, false)).await
}

/// Names the person a system transaction works for, from now until it ends.
pub(crate) async fn set_user(conn: &mut PgConnection, user: Option<UserId>) -> Result<(), sqlx::Error> {
    let text = user.map(|u| u.as_uuid().hyphenated().to_string()).unwrap_or_default();
    sqlx::query("SELECT set_config('app.user_id', $1, true)").bind(text).execute(conn).await?;
    Ok(())
}

/// Runs `work` for one clinic inside a system transaction (entering a context checks
/// the claim and the clinic's consents in the clinic's scope, in the same transaction
/// as the session changes it makes), then returns the transaction to platform scope.
/// The settings are transaction-local like everything else here: they end with the
/// transaction whatever happens, and a failure rolls the whole transaction back.
pub async fn scoped<T>(
    conn: &mut PgConnection,
    context: &TenantContext,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    apply(
        conn,
        Some(context.organization_id),
        context.user_id,
        context.acting_for,
        context.break_glass.is_some(),
    )
    .await?;
    let result = work(&mut *conn).await?;
    apply(conn, None, context.user_id, None, false).await?;
    Ok(result)
}

/// The inverse of [`scoped`]: runs platform `work` (finding or creating a person by
/// e-mail, which belongs to no clinic) inside a clinic's transaction, with no tenant set
/// while it runs, then puts the clinic's settings back. One transaction and one
/// connection for the whole request, instead of a second pooled connection held while
/// the first waits (which starves the pool under parallel requests).
pub async fn unscoped<T>(
    conn: &mut PgConnection,
    context: &TenantContext,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    apply(conn, None, context.user_id, None, false).await?;
    let result = work(&mut *conn).await?;
    apply(
        conn,
        Some(context.organization_id),
        context.user_id,
        context.acting_for,
        context.break_glass.is_some(),
    )
    .await?;
    Ok(result)
}

/// Puts the settings in place for the rest of the transaction (bound values, one
/// prepared statement whatever the ids).
async fn apply(
    conn: &mut PgConnection,
    organization: Option<OrganizationId>,
    user: Option<UserId>,
    acting_for: Option<UserId>,
    break_glass: bool,
) -> Result<(), sqlx::Error> {
    let text = |id: Option<uuid::Uuid>| id.map(|u| u.hyphenated().to_string()).unwrap_or_default();
    sqlx::query(
        "SELECT set_config('app.organization_id', $1, true), set_config('app.user_id', $2, true), \
         set_config('app.acting_for_user_id', $3, true), set_config('app.break_glass', $4, true)",
    )
    .bind(text(organization.map(|o| o.as_uuid())))
    .bind(text(user.map(|u| u.as_uuid())))
    .bind(text(acting_for.map(|u| u.as_uuid())))
    .bind(if break_glass { "on" } else { "off" })
    .execute(conn)
    .await?;
    Ok(())
}

// This module is where transactions are opened; the rest of the code may not.
#[allow(clippy::disallowed_methods)]
/// Sends `statement` (BEGIN and the settings) on a task of its own, so that it completes
/// even when the caller is cancelled (a client that goes away mid-request drops the
/// request's future). sqlx counts a transaction only once the server has answered its
/// BEGIN and rolls back on drop only what it counted: a caller cancelled in between
/// handed the connection back to the pool *inside* a transaction that still carried the
/// last request's tenant settings, and the next plain statement on it (a session being
/// saved, a job being claimed) ran in that transaction and was never committed. Finished
/// on its own task, the transaction is always counted, so dropping it rolls it back.
async fn begin_to_completion(
    pool: &PgPool,
    statement: String,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin_with(statement).await })
        .await
        .map_err(|_| sqlx::Error::WorkerCrashed)?
}

#[allow(clippy::disallowed_methods)]
/// A pooled connection outside any transaction, for single autocommit statements of
/// platform work (the job queue's claim). No tenant setting is set, so row-level security
/// shows platform rows only, exactly as in [`begin_system`], one round trip cheaper.
pub async fn platform_connection(pool: &PgPool) -> Result<sqlx::pool::PoolConnection<Postgres>, sqlx::Error> {
    pool.acquire().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_begin_statement_holds_only_uuids_and_fixed_words() {
        let org = OrganizationId::new();
        let user = UserId::new();
        let sql = begin_statement(Some(org), Some(user), None, true);
        assert!(sql.starts_with("BEGIN; SELECT set_config('app.organization_id', '"));
        assert!(sql.contains(&org.as_uuid().to_string()));
        assert!(sql.contains(&user.as_uuid().to_string()));
        assert!(sql.contains("set_config('app.acting_for_user_id', '', true)"));
        assert!(sql.contains("set_config('app.break_glass', 'on', true)"));
        // Only transaction-local settings.
        assert_eq!(sql.matches(", true)").count(), 4);
        assert!(!sql.contains("false)"));
    }
}
