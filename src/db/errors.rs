//! What a database error means, without what it says.
//!
//! Postgres messages quote the values that broke a rule (a name, a phone number), so no
//! message ever reaches a log, a page or an audit record: callers get a fixed word for
//! the kind of failure ([`sqlx_variant`]), whether waiting a moment could help
//! ([`is_unavailable`]), and a way to turn one named constraint into an answer for the
//! person ([`on_constraint`]).

use sqlx::PgConnection;

/// A secret-free, PHI-free name for what kind of database error this was.
pub(crate) fn sqlx_variant(error: &sqlx::Error) -> &'static str {
    match error {
        sqlx::Error::PoolTimedOut => "pool_timed_out",
        sqlx::Error::PoolClosed => "pool_closed",
        sqlx::Error::Io(_) => "io",
        sqlx::Error::Tls(_) => "tls",
        sqlx::Error::RowNotFound => "row_not_found",
        sqlx::Error::Protocol(_) => "protocol",
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => "decode",
        sqlx::Error::Database(_) => "database",
        _ => "other",
    }
}

/// The database cannot be reached, has no free connection, or is going away or not yet
/// back (a crash, a restart, a fail-over): trying again shortly may work (503), unlike a
/// statement the database refused (500).
pub(crate) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            true
        }
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_state(&code)),
        _ => false,
    }
}

/// SQLSTATEs that mean "the server, not the statement": connection exceptions (class 08),
/// an administrator's or a crash's shutdown, a server still starting (57P01-57P03), no
/// connection slot left (53300), and a server that became a read-only standby in a
/// fail-over (25006).
fn unavailable_state(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "25006")
}

/// Whether the database refused the statement for want of privilege (42501): a function
/// that checks its caller's role, as the policy does, said no.
pub(crate) fn lacks_privilege(error: &sqlx::Error) -> bool {
    error.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "42501")
}

/// Whether `error` is a violation of the constraint called `constraint`.
pub(crate) fn violates(error: &sqlx::Error, constraint: &str) -> bool {
    error.as_database_error().is_some_and(|e| e.constraint() == Some(constraint))
}

/// A statement was refused by the constraint it was guarded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

/// Runs `statement` behind a savepoint. A violation of `constraint` (a double booking,
/// overlapping hours, a name taken) rolls back to the savepoint and comes back as
/// `Ok(Err(Refused))`, so the request's transaction stays usable for re-rendering the
/// form and writing its audit event; any other error is returned as it is.
pub(crate) async fn on_constraint<T>(
    conn: &mut PgConnection,
    constraint: &'static str,
    statement: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
) -> Result<Result<T, Refused>, sqlx::Error> {
    sqlx::query("SAVEPOINT guarded_statement").execute(&mut *conn).await?;
    match statement(&mut *conn).await {
        Ok(value) => {
            sqlx::query("RELEASE SAVEPOINT guarded_statement").execute(&mut *conn).await?;
            Ok(Ok(value))
        }
        Err(error) if violates(&error, constraint) => {
            sqlx::query("ROLLBACK TO SAVEPOINT guarded_statement").execute(&mut *conn).await?;
            Ok(Err(Refused))
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::unavailable_state;

    #[test]
    fn server_states_are_unavailable_and_refused_statements_are_not() {
        for code in ["08006", "08001", "57P01", "57P02", "57P03", "53300", "25006"] {
            assert!(unavailable_state(code), "{code}");
        }
        for code in ["23505", "22021", "42501", "57014", "40001"] {
            assert!(!unavailable_state(code), "{code}");
        }
    }
}
