//! The audit hash chain: sealing and verification.
//!
//! Each organization has one chain, and the platform (events with no organization) one
//! more. A seal is `(seq, event_id, prev_hash, hash)` with
//! `hash = SHA-256(prev_hash || canonical(event))` and `prev_hash` of the first seal 32
//! zero bytes. Requests never wait on the chain: they only insert events. The sealer
//! (one per chain at a time, by advisory lock) appends the events that are not sealed
//! yet in `(occurred_at, id)` order; it runs in the database (`audit_seal_chain`), so
//! the runtime role, which may call it, cannot write a seal of its own making.
//! Verification recomputes every hash here, independently of the database's function. Late commits are fine: the chain's order is seal
//! order, and the sealer looks back [`LATE_COMMIT_WINDOW`] behind its frontier.
//!
//! [`verify`] recomputes every hash and reports the first broken link: an edited field
//! (hash mismatch), a deleted event (seal without event), a reordered or forged seal
//! (broken `prev_hash` or sequence), and an event inserted out of band with a back-dated
//! time (unsealed but older than the frontier).

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::ids::OrganizationId;
use crate::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant};

/// How far behind the newest sealed event the sealer still looks for unsealed ones. A
/// transaction's events carry its start time, so a transaction that takes longer than
/// this to commit would leave events the verifier reports; requests are bounded by the
/// request timeout (30 s by default), far below it.
pub(crate) const LATE_COMMIT_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// Events sealed per transaction.
const BATCH: i32 = 1000;

const GENESIS: [u8; 32] = [0; 32];

/// A chain: one organization's, or the platform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    Organization(OrganizationId),
    Platform,
}

impl std::fmt::Display for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Organization(id) => write!(f, "organization {id}"),
            Self::Platform => f.write_str("platform"),
        }
    }
}

impl Chain {
    fn organization_uuid(self) -> Option<Uuid> {
        match self {
            Self::Organization(id) => Some(id.as_uuid()),
            Self::Platform => None,
        }
    }

    async fn begin(self, pool: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        match self {
            Self::Organization(id) => begin_tenant(pool, &TenantContext::system(id)).await,
            Self::Platform => begin_system(pool, &SystemContext::default()).await,
        }
    }
}

/// An event as the chain sees it: every column, as text, in a fixed order.
struct EventRow {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    fields: Vec<Option<String>>,
}

/// The bytes hashed for an event: a JSON array of its columns as text (NULL as null), in
/// a fixed order. Timestamps in UTC with microseconds (PostgreSQL's precision), `details`
/// as PostgreSQL prints jsonb (keys in its canonical order).
fn canonical(event: &EventRow) -> Vec<u8> {
    let mut values = vec![
        serde_json::Value::String(event.id.to_string()),
        serde_json::Value::String(event.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true)),
    ];
    values.extend(
        event.fields.iter().map(|f| f.clone().map_or(serde_json::Value::Null, serde_json::Value::String)),
    );
    serde_json::to_vec(&values).expect("a JSON array of strings serializes")
}

fn link(prev: &[u8], event: &EventRow) -> [u8; 32] {
    let mut digest = Sha256::new();
    digest.update(prev);
    digest.update(canonical(event));
    digest.finalize().into()
}

/// Seals the pending events of one chain; returns how many were sealed. The sealing is
/// the database's (`audit_seal_chain`, a function the runtime role may call but whose
/// table it may not write): the application asks, batch by batch, each in a transaction
/// of the chain's own scope.
pub async fn seal(pool: &PgPool, chain: Chain) -> Result<usize, sqlx::Error> {
    let mut sealed = 0;
    loop {
        let mut tx = chain.begin(pool).await?;
        let count = sqlx::query_scalar!(
            r#"SELECT audit_seal_chain($1, make_interval(secs => $2)) AS "sealed!""#,
            BATCH,
            LATE_COMMIT_WINDOW.num_seconds() as f64
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        sealed += usize::try_from(count).unwrap_or_default();
        if count < BATCH {
            return Ok(sealed);
        }
    }
}

/// Every chain that exists: the platform's and one per organization.
pub(crate) async fn chains(pool: &PgPool) -> Result<Vec<Chain>, sqlx::Error> {
    let mut tx = begin_system(pool, &SystemContext::default()).await?;
    let ids = sqlx::query_scalar!(r#"SELECT id AS "id: OrganizationId" FROM organizations ORDER BY id"#)
        .fetch_all(&mut *tx)
        .await?;
    tx.rollback().await?;
    Ok(std::iter::once(Chain::Platform).chain(ids.into_iter().map(Chain::Organization)).collect())
}

/// Seals every chain; returns the number of events sealed.
pub async fn seal_all(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let mut total = 0;
    for chain in chains(pool).await? {
        total += seal(pool, chain).await?;
    }
    Ok(total)
}

/// The result of verifying one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub chain: Chain,
    pub sealed: i64,
    /// Unsealed events within the late-commit window (normal: the sealer has not run yet).
    pub pending: i64,
    /// The first broken link, if any.
    pub problem: Option<String>,
}

/// Recomputes one chain from its first seal.
pub async fn verify(pool: &PgPool, chain: Chain) -> Result<ChainReport, sqlx::Error> {
    let organization = chain.organization_uuid();
    let mut tx = chain.begin(pool).await?;
    let rows = sqlx::query!(
        r#"SELECT s.seq, s.event_id AS seal_event_id, s.prev_hash, s.hash, s.event_occurred_at,
                  e.id AS "id?", e.occurred_at AS "occurred_at?", e.organization_id, e.actor_user_id,
                  e.actor_kind AS "actor_kind?", e.acting_for_user_id, e.break_glass AS "break_glass?", e.role,
                  e.action AS "action?", e.resource_type, e.resource_id, e.patient_id, e.purpose,
                  e.outcome AS "outcome?", e.request_id, e.ip::text AS ip, e.user_agent,
                  e.details::text AS details, e.txid AS "txid?"
             FROM audit_seals s
             LEFT JOIN audit_events e ON e.id = s.event_id AND e.occurred_at = s.event_occurred_at
            WHERE s.organization_id IS NOT DISTINCT FROM $1
            ORDER BY s.seq"#,
        organization
    )
    .fetch_all(&mut *tx)
    .await?;

    let mut report = ChainReport { chain, sealed: rows.len() as i64, pending: 0, problem: None };
    let mut prev = GENESIS.to_vec();
    let mut frontier = DateTime::<Utc>::UNIX_EPOCH;
    for (index, row) in rows.into_iter().enumerate() {
        let expected_seq = index as i64 + 1;
        let problem = if row.seq != expected_seq {
            Some(format!("seal {expected_seq} is missing (found seal {} in its place)", row.seq))
        } else if row.prev_hash != prev {
            Some(format!("seal {} does not continue the chain (previous hash differs)", row.seq))
        } else if row.id.is_none() {
            Some(format!("seal {}: event {} is missing (deleted?)", row.seq, row.seal_event_id))
        } else {
            let event = EventRow {
                id: row.id.unwrap_or_default(),
                occurred_at: row.occurred_at.unwrap_or(row.event_occurred_at),
                fields: vec![
                    row.organization_id.map(|u| u.to_string()),
                    row.actor_user_id.map(|u| u.to_string()),
                    row.actor_kind,
                    row.acting_for_user_id.map(|u| u.to_string()),
                    row.break_glass.map(|b| b.to_string()),
                    row.role,
                    row.action,
                    row.resource_type,
                    row.resource_id.map(|u| u.to_string()),
                    row.patient_id.map(|u| u.to_string()),
                    row.purpose,
                    row.outcome,
                    row.request_id,
                    row.ip,
                    row.user_agent,
                    row.details,
                    row.txid.map(|t| t.to_string()),
                ],
            };
            let hash = link(&prev, &event);
            if hash.as_slice() != row.hash.as_slice() {
                Some(format!(
                    "seal {}: event {} does not match its seal (altered?)",
                    row.seq, row.seal_event_id
                ))
            } else {
                None
            }
        };
        if problem.is_some() {
            report.problem = problem;
            tx.rollback().await?;
            return Ok(report);
        }
        prev = row.hash;
        frontier = frontier.max(row.event_occurred_at);
    }

    // Unsealed events: recent ones are pending; one older than the frontier (minus the
    // late-commit window) was inserted out of band.
    let unsealed = sqlx::query!(
        r#"SELECT e.id, e.occurred_at FROM audit_events e
            WHERE e.organization_id IS NOT DISTINCT FROM $1
              AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id)
            ORDER BY e.occurred_at, e.id"#,
        organization
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.rollback().await?;
    let cutoff = frontier - LATE_COMMIT_WINDOW;
    for event in unsealed {
        if report.sealed > 0 && event.occurred_at < cutoff {
            report.problem = Some(format!(
                "event {} is not sealed but is older than sealed events (inserted out of band?)",
                event.id
            ));
            return Ok(report);
        }
        report.pending += 1;
    }
    Ok(report)
}

/// Keeps the result of a verification with the chain it checked (`audit_verifications`),
/// for the consoles: when, how many seals, and the first broken link if any.
pub async fn record_verification(
    pool: &PgPool,
    report: &ChainReport,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    requested_by: Option<crate::db::ids::UserId>,
) -> Result<(), sqlx::Error> {
    let mut tx = report.chain.begin(pool).await?;
    let problem = report.problem.as_deref().map(|p| p.chars().take(500).collect::<String>());
    sqlx::query!(
        "INSERT INTO audit_verifications (organization_id, started_at, finished_at, sealed, pending, problem, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        report.chain.organization_uuid(),
        started_at,
        finished_at,
        report.sealed,
        report.pending,
        problem,
        requested_by.map(|u| u.as_uuid())
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str) -> EventRow {
        EventRow {
            id: Uuid::nil(),
            occurred_at: DateTime::from_timestamp(1_800_000_000, 123_456_000).expect("valid"),
            fields: vec![Some(action.to_owned()), None],
        }
    }

    #[test]
    fn canonical_form_is_stable_and_distinguishes_null_from_text() {
        let a = canonical(&event("read"));
        assert_eq!(
            String::from_utf8(a).expect("utf-8"),
            r#"["00000000-0000-0000-0000-000000000000","2027-01-15T08:00:00.123456Z","read",null]"#
        );
        let mut b = event("read");
        b.fields[1] = Some("null".into());
        assert_ne!(canonical(&event("read")), canonical(&b));
    }

    #[test]
    fn each_link_depends_on_the_previous_hash() {
        let first = link(&GENESIS, &event("read"));
        let second = link(&first, &event("read"));
        assert_ne!(first, second);
        assert_eq!(link(&GENESIS, &event("read")), first);
    }
}
