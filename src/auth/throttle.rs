//! Per-account soft locks with growing back-off, kept in the database so every
//! instance sees them.
//!
//! Passwords: five failures are free; then each failure locks the account for 30 s,
//! doubling up to 15 minutes. A correct password during a lock is refused like a wrong
//! one (not even checked). Nobody is locked out for longer than 15 minutes at a time, so
//! an attacker cannot keep a clinician out for the day, and a passkey (another factor)
//! still signs them in. At most a few dozen guesses per hour are ever evaluated.
//! Second factors: five failures, then the same schedule starting at one minute.
//! Failures are forgotten 24 hours after the first of a run.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;

use crate::db::ids::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Password,
    SecondFactor,
}

impl Factor {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::SecondFactor => "second_factor",
        }
    }

    fn base(self) -> TimeDelta {
        match self {
            Self::Password => TimeDelta::seconds(30),
            Self::SecondFactor => TimeDelta::seconds(60),
        }
    }
}

pub(crate) const FREE_FAILURES: i32 = 5;
pub const MAX_LOCK: TimeDelta = TimeDelta::minutes(15);

/// How long to lock after the `failures`th failure in a run.
pub fn lock_for(factor: Factor, failures: i32) -> Option<TimeDelta> {
    if failures < FREE_FAILURES {
        return None;
    }
    let doublings = (failures - FREE_FAILURES).min(10) as u32;
    Some((factor.base() * 2i32.pow(doublings)).min(MAX_LOCK))
}

/// Until when `user` is locked for `factor` (None: not locked).
pub async fn locked_until(
    conn: &mut PgConnection,
    user: UserId,
    factor: Factor,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let until = sqlx::query_scalar!(
        "SELECT locked_until FROM sign_in_throttle WHERE user_id = $1 AND factor = $2",
        user.as_uuid(),
        factor.as_str()
    )
    .fetch_optional(conn)
    .await?
    .flatten();
    Ok(until.filter(|until| *until > now))
}

/// Counts a failure and sets the lock it earns; returns the failures in this run.
pub(crate) async fn record_failure(
    conn: &mut PgConnection,
    user: UserId,
    factor: Factor,
    now: DateTime<Utc>,
) -> Result<i32, sqlx::Error> {
    count_failure(conn, user, factor, now, false).await.map(|failures| failures.unwrap_or_default())
}

/// For a failed attempt on an address with no account: the same statement, on a row that
/// cannot exist (the nil id), so the round trip and the row lookup cost what counting a
/// real account's failure costs and the answer's timing tells nothing (AUTH-06).
pub(crate) async fn record_failure_of_nobody(
    conn: &mut PgConnection,
    factor: Factor,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sign_in_throttle
            SET failures = CASE WHEN window_started_at < $3::timestamptz - interval '24 hours' THEN 1 ELSE failures + 1 END
          WHERE user_id = $1 AND factor = $2",
        uuid::Uuid::nil(),
        factor.as_str(),
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether an attempt may be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Counted as a failure in advance; [`record_success`] takes it back.
    Reserved,
    /// The account is locked: refuse without evaluating.
    Locked,
}

/// Counts an attempt as a failure *before* it is evaluated, in one statement, unless the
/// account is locked. Checking the lock and counting the failure afterwards would let
/// parallel attempts all pass the check while a hash is computed; counted first, the
/// row serializes them, and no more attempts are evaluated than the schedule allows.
/// The caller commits before evaluating, so the others see the count.
pub(crate) async fn reserve(
    conn: &mut PgConnection,
    user: UserId,
    factor: Factor,
    now: DateTime<Utc>,
) -> Result<Attempt, sqlx::Error> {
    Ok(match count_failure(conn, user, factor, now, true).await? {
        Some(_) => Attempt::Reserved,
        None => Attempt::Locked,
    })
}

/// Adds a failure to the run (a new run after 24 hours) and sets the lock it earns.
/// With `unless_locked`, a locked account is left as it is and `None` returned.
async fn count_failure(
    conn: &mut PgConnection,
    user: UserId,
    factor: Factor,
    now: DateTime<Utc>,
    unless_locked: bool,
) -> Result<Option<i32>, sqlx::Error> {
    let failures = sqlx::query_scalar!(
        r#"INSERT INTO sign_in_throttle (user_id, factor, failures, window_started_at) VALUES ($1, $2, 1, $3)
           ON CONFLICT (user_id, factor) DO UPDATE
              SET failures = CASE WHEN sign_in_throttle.window_started_at < $3 - interval '24 hours'
                                  THEN 1 ELSE sign_in_throttle.failures + 1 END,
                  window_started_at = CASE WHEN sign_in_throttle.window_started_at < $3 - interval '24 hours'
                                           THEN $3 ELSE sign_in_throttle.window_started_at END
            WHERE NOT $4 OR sign_in_throttle.locked_until IS NULL OR sign_in_throttle.locked_until <= $3
        RETURNING failures"#,
        user.as_uuid(),
        factor.as_str(),
        now,
        unless_locked
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(failures) = failures else { return Ok(None) };
    if let Some(lock) = lock_for(factor, failures) {
        sqlx::query!(
            "UPDATE sign_in_throttle SET locked_until = $3 WHERE user_id = $1 AND factor = $2",
            user.as_uuid(),
            factor.as_str(),
            now + lock
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(Some(failures))
}

/// A success clears the run.
pub(crate) async fn record_success(
    conn: &mut PgConnection,
    user: UserId,
    factor: Factor,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM sign_in_throttle WHERE user_id = $1 AND factor = $2",
        user.as_uuid(),
        factor.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_grow_and_are_capped() {
        assert_eq!(lock_for(Factor::Password, 4), None);
        assert_eq!(lock_for(Factor::Password, 5), Some(TimeDelta::seconds(30)));
        assert_eq!(lock_for(Factor::Password, 6), Some(TimeDelta::seconds(60)));
        assert_eq!(lock_for(Factor::Password, 9), Some(TimeDelta::seconds(480)));
        assert_eq!(lock_for(Factor::Password, 10), Some(MAX_LOCK));
        assert_eq!(lock_for(Factor::Password, 1000), Some(MAX_LOCK));
        assert_eq!(lock_for(Factor::SecondFactor, 5), Some(TimeDelta::seconds(60)));
    }

    #[test]
    fn at_most_a_few_dozen_guesses_an_hour_are_evaluated() {
        // An attacker who retries the moment each lock ends.
        let mut elapsed = TimeDelta::zero();
        let mut evaluated = 0;
        let mut failures = 0;
        while elapsed < TimeDelta::hours(1) {
            evaluated += 1;
            failures += 1;
            elapsed += lock_for(Factor::Password, failures).unwrap_or(TimeDelta::seconds(1));
        }
        assert!(evaluated <= 100, "{evaluated}");
        assert!(evaluated < 20, "{evaluated}");
    }
}
