//! Wall-clock times and instants. Appointments are stored as UTC instants; people type
//! and read times on their own clock (the viewer's timezone, else the clinic's), and
//! working hours are wall-clock times in the clinic's timezone, so 09:00 stays 09:00 on
//! both sides of a daylight-saving change.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

pub(crate) const STATUSES: [(&str, &str); 5] = [
    ("booked", "Booked"),
    ("checked_in", "Checked in"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
    ("no_show", "No-show"),
];

pub(crate) fn status_label(status: &str) -> &'static str {
    STATUSES.iter().find(|(s, _)| *s == status).map_or("Unknown", |(_, label)| label)
}

pub(crate) const WEEKDAYS: [&str; 7] =
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Why a typed time cannot be booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeProblem {
    Unreadable,
    /// The clocks jump over it (spring forward).
    DoesNotExist,
}

impl TimeProblem {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Unreadable => {
                "Enter the date as YYYY-MM-DD and the time as HH:MM (24-hour), for example 14:30."
            }
            Self::DoesNotExist => {
                "That time does not exist on that day: the clocks move forward an hour. Choose a time after the change."
            }
        }
    }
}

/// The instant a wall-clock time in `zone` means. When the clocks fall back and the time
/// happens twice, the first occurrence is taken (and shown with its zone abbreviation, so
/// the booking says which).
pub fn instant(zone: Tz, date: NaiveDate, time: NaiveTime) -> Result<DateTime<Utc>, TimeProblem> {
    match zone.from_local_datetime(&NaiveDateTime::new(date, time)) {
        LocalResult::Single(at) => Ok(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
        LocalResult::None => Err(TimeProblem::DoesNotExist),
    }
}

pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

pub(crate) fn parse_time(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    NaiveTime::parse_from_str(text, "%H:%M").or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S")).ok()
}

/// The UTC bounds of one local day in `zone` (23 or 25 hours long on change days).
pub(crate) fn day_bounds(zone: Tz, day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = start_of_day(zone, day);
    let end = start_of_day(zone, day + Duration::days(1));
    (start, end)
}

fn start_of_day(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    // Midnight may not exist (some zones change at 00:00): the first minute that does.
    (0..=120)
        .find_map(|minutes| {
            let time = NaiveTime::MIN + Duration::minutes(minutes);
            match zone.from_local_datetime(&NaiveDateTime::new(day, time)) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Some(at.with_timezone(&Utc)),
                LocalResult::None => None,
            }
        })
        .unwrap_or_else(|| Utc.from_utc_datetime(&NaiveDateTime::new(day, NaiveTime::MIN)))
}

/// The Monday of the week holding `day`.
pub(crate) fn week_start(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// ISO weekday number, 1 = Monday.
pub(crate) fn iso_weekday(day: NaiveDate) -> i16 {
    day.weekday().number_from_monday() as i16
}

/// One block of working hours, wall-clock in the clinic's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hours {
    pub weekday: i16,
    pub starts: NaiveTime,
    pub ends: NaiveTime,
}

/// Whether [start, end) — UTC instants — lies inside one block of `hours`, read on the
/// clinic's clock.
pub(crate) fn within_hours(zone: Tz, hours: &[Hours], start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    let local_start = start.with_timezone(&zone);
    let local_end = end.with_timezone(&zone);
    if local_start.date_naive() != local_end.date_naive() && local_end.time() != NaiveTime::MIN {
        return false;
    }
    let weekday = iso_weekday(local_start.date_naive());
    let (from, to) = (local_start.time(), local_end.time());
    hours.iter().any(|h| h.weekday == weekday && h.starts <= from && to <= h.ends && from < to)
}

#[cfg(test)]
mod tests {
    use chrono_tz::America::New_York;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("time")
    }

    #[test]
    fn nine_oclock_stays_nine_oclock_across_the_spring_change() {
        // 2026-03-08: US clocks go from 02:00 EST to 03:00 EDT.
        let before = instant(New_York, date(2026, 3, 7), time(9, 0)).expect("exists");
        let after = instant(New_York, date(2026, 3, 9), time(9, 0)).expect("exists");
        assert_eq!(before.format("%H:%M").to_string(), "14:00", "EST is UTC-5");
        assert_eq!(after.format("%H:%M").to_string(), "13:00", "EDT is UTC-4");
    }

    #[test]
    fn a_time_the_clocks_skip_is_refused_and_a_repeated_one_is_the_first() {
        assert_eq!(instant(New_York, date(2026, 3, 8), time(2, 30)), Err(TimeProblem::DoesNotExist));
        // 2026-11-01: 01:30 happens twice; the first is EDT (UTC-4).
        let first = instant(New_York, date(2026, 11, 1), time(1, 30)).expect("exists");
        assert_eq!(first.format("%H:%M").to_string(), "05:30");
    }

    #[test]
    fn change_days_are_23_and_25_hours_long() {
        let (start, end) = day_bounds(New_York, date(2026, 3, 8));
        assert_eq!((end - start).num_hours(), 23);
        let (start, end) = day_bounds(New_York, date(2026, 11, 1));
        assert_eq!((end - start).num_hours(), 25);
        let (start, end) = day_bounds(New_York, date(2026, 11, 23));
        assert_eq!((end - start).num_hours(), 24);
    }

    #[test]
    fn working_hours_are_read_on_the_clinics_clock() {
        let hours = [Hours { weekday: 1, starts: time(9, 0), ends: time(17, 0) }];
        // Monday 2026-03-09 (EDT) and Monday 2026-03-02 (EST): 09:00-09:30 local both times.
        for day in [date(2026, 3, 2), date(2026, 3, 9)] {
            let start = instant(New_York, day, time(9, 0)).expect("exists");
            assert!(within_hours(New_York, &hours, start, start + Duration::minutes(30)), "{day}");
            let early = instant(New_York, day, time(8, 45)).expect("exists");
            assert!(!within_hours(New_York, &hours, early, early + Duration::minutes(30)));
            let late = instant(New_York, day, time(16, 45)).expect("exists");
            assert!(!within_hours(New_York, &hours, late, late + Duration::minutes(30)), "runs past 17:00");
        }
        let tuesday = instant(New_York, date(2026, 3, 10), time(10, 0)).expect("exists");
        assert!(!within_hours(New_York, &hours, tuesday, tuesday + Duration::minutes(30)));
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(week_start(date(2026, 11, 29)), date(2026, 11, 23));
        assert_eq!(week_start(date(2026, 11, 23)), date(2026, 11, 23));
        assert_eq!(iso_weekday(date(2026, 11, 23)), 1);
    }

    #[test]
    fn bad_input_is_unreadable_not_a_panic() {
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("tomorrow"), None);
        assert_eq!(parse_time("9am"), None);
        assert_eq!(parse_time("25:00"), None);
    }
}

/// The channel the appointments trigger NOTIFYs after every committed change (see the
/// migration that creates it); open schedules listen to it through `web::live`.
pub(crate) const LIVE_CHANNEL: &str = "lockdev_schedule";

/// One committed change to an appointment, as the trigger describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScheduleChange {
    pub appointment_id: crate::db::ids::AppointmentId,
    /// `booked`, `checked_in`, `completed`, `cancelled`, `no_show`.
    pub change: String,
}

impl ScheduleChange {
    /// Reads the trigger's payload (uuids as PostgreSQL prints them).
    pub(crate) fn parse(payload: &str) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Payload {
            appointment_id: uuid::Uuid,
            change: String,
        }
        let raw: Payload = serde_json::from_str(payload).ok()?;
        Some(Self {
            appointment_id: crate::db::ids::AppointmentId::from_uuid(raw.appointment_id),
            change: raw.change.chars().take(20).collect(),
        })
    }
}

#[cfg(test)]
mod live_tests {
    use super::ScheduleChange;

    #[test]
    fn the_triggers_payload_is_read() {
        let id = crate::db::ids::AppointmentId::new();
        let payload = format!(
            r#"{{"organization_id" : "{}", "appointment_id" : "{}", "provider_id" : "{}", "change" : "booked"}}"#,
            uuid::Uuid::nil(),
            id.as_uuid(),
            uuid::Uuid::nil()
        );
        let change = ScheduleChange::parse(&payload).expect("parsed");
        assert_eq!((change.appointment_id, change.change.as_str()), (id, "booked"));
        assert!(ScheduleChange::parse("{}").is_none());
    }
}
