//! Recurring work. Time is cut into slots per kind, each kind declaring its own rhythm
//! (`JobKind::every`: every 10 s for sealing, every 5 min for reminder planning, …); each
//! worker process queues the current slot's job of every recurring kind it works, with
//! the slot as its idempotency key, so however many processes run, each slot runs once.
//! Slots missed while nothing ran are not replayed: each recurring kind catches up by
//! itself (sealing seals everything pending; planning plans everything due).

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use super::{NewJob, Registry, enqueue};
use crate::db::tenant::{SystemContext, begin_system};

/// The start of the slot `now` falls in.
pub fn slot(now: DateTime<Utc>, every: TimeDelta) -> DateTime<Utc> {
    let step = every.num_seconds().max(1);
    let start = now.timestamp().div_euclid(step) * step;
    DateTime::from_timestamp(start, 0).unwrap_or(now)
}

/// Queues the current slot of every recurring kind of `registry` (no-op for slots already
/// queued).
pub async fn queue_due(pool: &PgPool, registry: &Registry, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    let mut tx = begin_system(pool, &SystemContext::default()).await?;
    let mut queued = 0;
    for (kind, every) in registry.recurring() {
        let at = slot(now, every);
        let job = NewJob::new(kind, serde_json::json!({}))
            .idempotency_key(at.to_rfc3339())
            .run_at(at)
            .max_attempts(3);
        if enqueue(&mut tx, &job, now).await?.is_some() {
            queued += 1;
        }
    }
    tx.commit().await?;
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_and_stable() {
        let now: DateTime<Utc> = "2027-03-14T07:03:27Z".parse().expect("time");
        assert_eq!(
            slot(now, TimeDelta::minutes(5)),
            "2027-03-14T07:00:00Z".parse::<DateTime<Utc>>().expect("time")
        );
        assert_eq!(
            slot(now, TimeDelta::seconds(10)),
            "2027-03-14T07:03:20Z".parse::<DateTime<Utc>>().expect("time")
        );
        assert_eq!(
            slot(now, TimeDelta::hours(24)),
            "2027-03-14T00:00:00Z".parse::<DateTime<Utc>>().expect("time")
        );
    }
}
