//! What "healthy" means, gathered once and shown as JSON or HTML.

use std::time::Duration;

use serde::Serialize;
use sqlx::PgConnection;

use crate::db;
use crate::web::SystemTx;

/// Upper bound for the whole deep check, so an orchestrator's probe never hangs.
const DEEP_CHECK_BUDGET: Duration = Duration::from_secs(2);

/// One check. What was seen (`detail`) goes to the operator's log only: the public
/// answers (`/health/deep`, `/status`) say which check fails and nothing an outsider could
/// use (schema versions, role flags, queue depths).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Machine name, used in the JSON `failing` list.
    pub name: &'static str,
    /// Human label for the status page.
    #[serde(skip)]
    pub label: &'static str,
    pub ok: bool,
    /// What was seen; never a secret, a connection string or a raw database message.
    #[serde(skip)]
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct HealthReport {
    pub checks: Vec<Check>,
}

/// Jobs due longer than this mean the workers are not keeping up (or none run).
const QUEUE_LAG_LIMIT_SECONDS: f64 = 300.0;

impl HealthReport {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    pub fn failing(&self) -> Vec<&'static str> {
        self.checks.iter().filter(|c| !c.ok).map(|c| c.name).collect()
    }

    /// Asks the database, as the runtime role, whether it is reachable, migrated to this
    /// binary's schema, and whether the role is safely unprivileged. A failing check is
    /// logged with what was seen.
    pub(crate) async fn gather(tx: &mut SystemTx) -> Self {
        let report = match tokio::time::timeout(DEEP_CHECK_BUDGET, async {
            match tx.conn().await {
                Ok(conn) => Self::gather_unbounded(conn).await,
                Err(_) => Self::database_down("no connection (database down or overloaded)"),
            }
        })
        .await
        {
            Ok(report) => report,
            Err(_) => Self::database_down("no answer within 2 seconds"),
        };
        for check in report.checks.iter().filter(|c| !c.ok) {
            tracing::warn!(check = check.name, detail = %check.detail, "health check failing");
        }
        report
    }

    async fn gather_unbounded(conn: &mut PgConnection) -> Self {
        let migrations = match db::migration_status(&mut *conn).await {
            Ok(status) => status,
            Err(error) => return Self::database_down(describe_unreachable(&error)),
        };
        let role = db::runtime_role_check(&mut *conn).await;

        let database = Check { name: "database", label: "Database", ok: true, detail: "reachable".into() };
        let migrations = Check {
            name: "migrations",
            label: "Database schema",
            ok: migrations.is_current(),
            detail: if migrations.is_current() {
                format!("{} migrations applied, none pending", migrations.applied)
            } else {
                format!(
                    "{} applied; pending {:?}; changed since applied {:?}; unknown to this version {:?}",
                    migrations.applied, migrations.pending, migrations.mismatched, migrations.unknown
                )
            },
        };
        let runtime_role = match role {
            Ok(role) => Check {
                name: "runtime_role",
                label: "Database access role",
                ok: role.is_safe(),
                detail: if role.is_safe() {
                    "no superuser, no BYPASSRLS, owns nothing".into()
                } else {
                    format!(
                        "unsafe: superuser={}, bypassrls={}, owned relations={}",
                        role.superuser, role.bypass_rls, role.owned_relations
                    )
                },
            },
            Err(error) => Check {
                name: "runtime_role",
                label: "Database access role",
                ok: false,
                detail: describe_unreachable(&error).into(),
            },
        };
        let queue = crate::jobs::queue::stats(&mut *conn, chrono::Utc::now()).await.ok();
        let jobs = match &queue {
            Some(q) => Check {
                name: "job_queue",
                label: "Background jobs",
                ok: q.lag_seconds <= QUEUE_LAG_LIMIT_SECONDS,
                detail: format!(
                    "{} due, {} scheduled, {} running, {} dead; oldest due job waiting {:.0} s",
                    q.ready, q.scheduled, q.running, q.dead, q.lag_seconds
                ),
            },
            None => Check {
                name: "job_queue",
                label: "Background jobs",
                ok: false,
                detail: "queue not readable".into(),
            },
        };
        Self { checks: vec![database, migrations, runtime_role, jobs] }
    }

    fn database_down(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let skipped = |name, label| Check {
            name,
            label,
            ok: false,
            detail: "not checked: database unreachable".into(),
        };
        Self {
            checks: vec![
                Check { name: "database", label: "Database", ok: false, detail },
                skipped("migrations", "Database schema"),
                skipped("runtime_role", "Database access role"),
                skipped("job_queue", "Background jobs"),
            ],
        }
    }
}

/// A short, secret-free description of why the database did not answer.
fn describe_unreachable(error: &sqlx::Error) -> &'static str {
    match error {
        sqlx::Error::PoolTimedOut => "no connection available (database down or overloaded)",
        sqlx::Error::Io(_) => "connection failed",
        sqlx::Error::Tls(_) => "TLS handshake failed",
        sqlx::Error::Database(_) => "query refused by the database",
        _ => "query failed",
    }
}
