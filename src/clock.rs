//! Time as a dependency.
//!
//! Everything that depends on "now" (session expiry, throttling, token lifetimes,
//! reminders) asks a [`Clock`] held in the application state, so tests move time forward
//! with [`ManualClock::advance`] instead of sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

/// The timezones offered in pickers: every IANA name of the Americas, Hawaii and UTC (any
/// valid IANA name is accepted where a form allows typing one).
pub fn offered_zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|z| z.name())
        .filter(|n| n.starts_with("America/") || n.starts_with("Pacific/Honolulu") || *n == "UTC")
        .collect()
}

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub(crate) type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to. Used by tests; harmless anywhere else.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(start) }
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-03-08T06:59:00Z").expect("valid").to_utc();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(TimeDelta::minutes(2));
        assert_eq!(clock.now(), start + TimeDelta::minutes(2));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
