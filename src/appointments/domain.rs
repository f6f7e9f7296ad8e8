//! Wall-clock times and instants. Appointments are stored as UTC instants; people type
//! and read times on their own clock (the viewer's timezone, else the clinic's), and
//! working hours are wall-clock times in the clinic's timezone, so 09:00 stays 09:00 on
//! both sides of a daylight-saving change.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
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

/// A time of day as the schedule shows it: "09:05", 24-hour. Written digit by digit
/// rather than through a chrono pattern, which also renders the offset's name on every
/// call: a busy day's grid writes a time for each quarter hour and each visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Clock<T>(pub T);

impl<T: Timelike> std::fmt::Display for Clock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

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
    fn free_starts_are_quarter_hours_inside_the_hours_after_now_and_clear_of_every_busy_time() {
        let zone = New_York;
        let day = date(2026, 12, 7);
        let at =
            |h: u32, m: u32| instant(zone, day, NaiveTime::from_hms_opt(h, m, 0).expect("t")).expect("i");
        let time = |h: u32| NaiveTime::from_hms_opt(h, 0, 0).expect("t");
        let hours = [
            Hours { weekday: 1, starts: time(9), ends: time(11) },
            Hours { weekday: 2, starts: time(9), ends: time(17) },
        ];
        // Busy 09:30-10:00 (here) and 10:20-10:30 (at another clinic). Of the starts
        // 09:00 ... 10:30 (10:45 would end after 11:00), 09:15-10:15 each touch a busy time.
        let busy = [(at(9, 30), at(10, 0)), (at(10, 20), at(10, 30))];
        assert_eq!(free_starts(zone, &hours, day, 30, at(9, 0), &busy), [at(9, 0), at(10, 30)]);
        // Asked at 09:05: 09:00 has begun.
        assert_eq!(free_starts(zone, &hours, day, 30, at(9, 5), &busy), [at(10, 30)]);
        // Tuesday's hours are not Monday's.
        assert!(free_starts(zone, &hours[1..], day, 30, at(0, 0), &[]).is_empty());
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

/// How far ahead the slot finder looks, and how many slots it offers.
pub(crate) const FINDER_DAYS: i64 = 14;
pub(crate) const FINDER_SLOTS: usize = 10;

/// The starts, every quarter hour, of a visit of `minutes` on the clinic's `day` that fit
/// inside one block of working hours, begin at `from` or later, and overlap nothing in
/// `busy` (instants).
pub(crate) fn free_starts(
    clinic: Tz,
    hours: &[Hours],
    day: NaiveDate,
    minutes: i64,
    from: DateTime<Utc>,
    busy: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Vec<DateTime<Utc>> {
    let length = Duration::minutes(minutes);
    let weekday = iso_weekday(day);
    let mut starts = Vec::new();
    for block in hours.iter().filter(|h| h.weekday == weekday) {
        let (Ok(opens), Ok(closes)) = (instant(clinic, day, block.starts), instant(clinic, day, block.ends))
        else {
            continue;
        };
        let mut at = opens;
        while at + length <= closes {
            let ends = at + length;
            if at >= from && !busy.iter().any(|(b_start, b_end)| *b_start < ends && at < *b_end) {
                starts.push(at);
            }
            at += Duration::minutes(15);
        }
    }
    starts.sort_unstable();
    starts.dedup();
    starts
}

pub(crate) mod grid {
    //! The time grid the day and week schedules are drawn on: rows of a quarter hour on the
    //! viewer's clock, one column per provider (day) or per day (week). This decides where
    //! everything goes; the template only places what it is given, with CSS classes (the
    //! content security policy forbids inline styles).
    //!
    //! Rows are wall-clock quarter hours of the column's date (row 36 is 09:00), so every
    //! column of a week lines up even across a daylight-saving change; on the change day a
    //! quarter hour that does not exist is never offered for booking.

    use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Timelike, Utc};
    use chrono_tz::Tz;

    use super as domain;

    pub(crate) const ROW_MINUTES: u32 = 15;
    pub(crate) const ROWS_PER_DAY: usize = 96;
    /// Shown even on an empty day, so the grid never collapses to nothing: 08:00 to 17:00.
    const DEFAULT_WINDOW: (usize, usize) = (32, 68);

    /// A stretch of time, as instants.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Span {
        pub starts: DateTime<Utc>,
        pub ends: DateTime<Utc>,
    }

    impl Span {
        fn overlaps(&self, other: &Span) -> bool {
            self.starts < other.ends && other.starts < self.ends
        }
    }

    /// What one column holds: its date on the viewer's clock, when the provider works (as
    /// instants), their visits here, and their bookings at other clinics.
    pub(crate) struct Column<'a> {
        pub date: NaiveDate,
        pub open: &'a [Span],
        pub visits: &'a [Span],
        pub elsewhere: &'a [Span],
    }

    /// The rows every column shows, `[first, last)` of the day's 96.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Window {
        pub first: usize,
        pub last: usize,
    }

    impl Window {
        /// The wall-clock time of each row shown, with its grid line (1-based).
        pub(crate) fn rows(&self) -> impl Iterator<Item = (usize, NaiveTime)> + '_ {
            (self.first..self.last).map(move |row| (row - self.first + 1, row_time(row)))
        }
    }

    /// One thing in a column, at its grid line (1-based, within the window) and spanning
    /// `span` rows.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Cell {
        /// A free quarter hour, inside working hours (`open`) or not. `at` is its start, or
        /// None when the clocks skip it that day.
        Free { row: usize, time: NaiveTime, at: Option<DateTime<Utc>>, open: bool },
        /// The provider is booked at another clinic: they cannot be here.
        Elsewhere { row: usize, span: usize, starts: NaiveTime, ends: NaiveTime },
        /// A visit, or visits whose times overlap, by their index in the column's list, each
        /// with whether it collides with a booking at another clinic.
        Visits { row: usize, span: usize, visits: Vec<(usize, bool)> },
    }

    fn row_time(row: usize) -> NaiveTime {
        NaiveTime::MIN + Duration::minutes((row as i64) * i64::from(ROW_MINUTES))
    }

    /// The row an instant falls in on `date`'s wall clock: rounded down for a start, up for
    /// an end; clamped to the day.
    fn row_of(zone: Tz, date: NaiveDate, at: DateTime<Utc>, round_up: bool) -> usize {
        let local = at.with_timezone(&zone);
        match local.date_naive().cmp(&date) {
            std::cmp::Ordering::Less => 0,
            std::cmp::Ordering::Greater => ROWS_PER_DAY,
            std::cmp::Ordering::Equal => {
                let seconds = local.time().num_seconds_from_midnight();
                let row_seconds = ROW_MINUTES * 60;
                let row = if round_up { seconds.div_ceil(row_seconds) } else { seconds / row_seconds };
                (row as usize).min(ROWS_PER_DAY)
            }
        }
    }

    /// Rows `[start, end)` a span covers on `date`, at least one row when it touches the day.
    fn rows_of(zone: Tz, date: NaiveDate, span: &Span) -> Option<(usize, usize)> {
        let start = row_of(zone, date, span.starts, false);
        let end = row_of(zone, date, span.ends, true);
        if end == 0 || start >= ROWS_PER_DAY {
            return None;
        }
        Some((start, end.max(start + 1)))
    }

    /// The rows to show: the working hours, visits and bookings elsewhere of every column,
    /// and never less than 08:00 to 17:00.
    pub(crate) fn window(zone: Tz, columns: &[Column<'_>]) -> Window {
        let (mut first, mut last) = DEFAULT_WINDOW;
        for column in columns {
            for span in column.open.iter().chain(column.visits).chain(column.elsewhere) {
                if let Some((start, end)) = rows_of(zone, column.date, span) {
                    first = first.min(start);
                    last = last.max(end);
                }
            }
        }
        Window { first, last }
    }

    /// Lays one column out over the window's rows, top to bottom.
    pub(crate) fn lay_out(zone: Tz, window: Window, column: &Column<'_>) -> Vec<Cell> {
        let length = window.last - window.first;
        let local = |row: usize| row - window.first + 1;

        // Visits whose rows overlap share one block (a no-show and the visit booked into its
        // time, or two visits in one quarter hour), so nothing is drawn over anything else.
        let mut visits: Vec<(usize, usize, usize)> = column
            .visits
            .iter()
            .enumerate()
            .filter_map(|(index, span)| rows_of(zone, column.date, span).map(|(s, e)| (s, e, index)))
            .collect();
        visits.sort_by_key(|&(start, end, index)| (start, end, index));
        let mut blocks: Vec<(usize, usize, Vec<usize>)> = Vec::new();
        for (start, end, index) in visits {
            match blocks.last_mut() {
                Some((_, block_end, members)) if start < *block_end => {
                    *block_end = (*block_end).max(end);
                    members.push(index);
                }
                _ => blocks.push((start, end, vec![index])),
            }
        }

        let mut elsewhere = [false; ROWS_PER_DAY];
        for span in column.elsewhere {
            if let Some((start, end)) = rows_of(zone, column.date, span) {
                elsewhere[start..end].iter_mut().for_each(|row| *row = true);
            }
        }

        let mut cells = Vec::with_capacity(length);
        let mut row = window.first;
        let mut next_block = blocks.into_iter().peekable();
        while row < window.last {
            if let Some((start, end, members)) = next_block.next_if(|(start, _, _)| *start <= row) {
                let start = start.max(row);
                let visits = members
                    .into_iter()
                    .map(|index| {
                        let span = column.visits[index];
                        (index, column.elsewhere.iter().any(|other| other.overlaps(&span)))
                    })
                    .collect();
                cells.push(Cell::Visits { row: local(start), span: end - start, visits });
                row = end;
                continue;
            }
            // Nothing of ours may start inside a run of bookings elsewhere and be hidden by
            // it: the run stops where the next block starts.
            let block_start = next_block.peek().map_or(window.last, |(start, _, _)| *start);
            if elsewhere[row] {
                let limit = block_start.min(window.last);
                let end = (row..limit).find(|&r| !elsewhere[r]).unwrap_or(limit);
                cells.push(Cell::Elsewhere {
                    row: local(row),
                    span: end - row,
                    starts: row_time(row),
                    ends: row_time(end),
                });
                row = end;
                continue;
            }
            let time = row_time(row);
            let at = domain::instant(zone, column.date, time).ok().filter(|at| {
                // Skipped by the clocks: the instant found belongs to another wall time.
                at.with_timezone(&zone).time() == time
            });
            let open = at.is_some_and(|at| {
                let quarter = Span { starts: at, ends: at + Duration::minutes(i64::from(ROW_MINUTES)) };
                column.open.iter().any(|span| span.starts <= quarter.starts && quarter.ends <= span.ends)
            });
            cells.push(Cell::Free { row: local(row), time, at, open });
            row += 1;
        }
        cells
    }

    /// The working hours of the clinic's days around `date`, as instants: hours are
    /// wall-clock times in the clinic's zone, which may be a day away from the viewer's.
    pub(crate) fn open_spans(clinic: Tz, hours: &[domain::Hours], date: NaiveDate) -> Vec<Span> {
        let mut spans = Vec::new();
        for offset in -1..=1 {
            let day = date + Duration::days(offset);
            let weekday = domain::iso_weekday(day);
            for block in hours.iter().filter(|h| h.weekday == weekday) {
                if let (Ok(starts), Ok(ends)) =
                    (domain::instant(clinic, day, block.starts), domain::instant(clinic, day, block.ends))
                {
                    spans.push(Span { starts, ends });
                }
            }
        }
        spans
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use chrono::TimeZone;

        const ZONE: Tz = chrono_tz::America::New_York;

        fn at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
            domain::instant(ZONE, date, NaiveTime::from_hms_opt(hour, minute, 0).expect("time"))
                .expect("exists")
        }

        fn day() -> NaiveDate {
            NaiveDate::from_ymd_opt(2026, 12, 7).expect("date")
        }

        fn span(from: (u32, u32), to: (u32, u32)) -> Span {
            Span { starts: at(day(), from.0, from.1), ends: at(day(), to.0, to.1) }
        }

        #[test]
        fn an_empty_day_shows_eight_to_five_and_a_late_visit_widens_every_column() {
            let empty = Column { date: day(), open: &[], visits: &[], elsewhere: &[] };
            assert_eq!(window(ZONE, &[empty]), Window { first: 32, last: 68 });
            let late = [span((18, 0), (18, 40))];
            let early = [span((7, 10), (7, 30))];
            let columns = [
                Column { date: day(), open: &[], visits: &late, elsewhere: &[] },
                Column { date: day(), open: &early, visits: &[], elsewhere: &[] },
            ];
            assert_eq!(window(ZONE, &columns), Window { first: 28, last: 75 });
        }

        #[test]
        fn visits_are_blocks_sized_by_duration_and_hours_mark_the_open_quarters() {
            let open = [span((9, 0), (12, 0))];
            let visits = [span((9, 30), (10, 15)), span((11, 50), (12, 5))];
            let column = Column { date: day(), open: &open, visits: &visits, elsewhere: &[] };
            let window = Window { first: 32, last: 52 };
            let cells = lay_out(ZONE, window, &column);
            // 08:00-09:00 closed (4 rows), 09:00-09:30 open (2), the visit (3 rows), ...
            assert_eq!(
                cells[0],
                Cell::Free { row: 1, time: row_time(32), at: Some(at(day(), 8, 0)), open: false }
            );
            assert!(matches!(cells[4], Cell::Free { row: 5, open: true, .. }));
            assert_eq!(cells[6], Cell::Visits { row: 7, span: 3, visits: vec![(0, false)] });
            // 11:50-12:05 covers the 11:45 and 12:00 rows.
            assert!(cells.contains(&Cell::Visits { row: 16, span: 2, visits: vec![(1, false)] }));
            assert!(matches!(cells.last(), Some(Cell::Free { row: 20, open: false, .. })));
            // Every row is covered exactly once.
            let covered: usize = cells
                .iter()
                .map(|c| match c {
                    Cell::Free { .. } => 1,
                    Cell::Elsewhere { span, .. } | Cell::Visits { span, .. } => *span,
                })
                .sum();
            assert_eq!(covered, 20);
        }

        #[test]
        fn overlapping_visits_share_a_block_and_a_booking_elsewhere_is_a_conflict() {
            let visits = [span((9, 0), (9, 30)), span((9, 15), (9, 45)), span((10, 0), (10, 30))];
            let elsewhere = [span((10, 15), (11, 0))];
            let column = Column { date: day(), open: &[], visits: &visits, elsewhere: &elsewhere };
            let cells = lay_out(ZONE, Window { first: 36, last: 48 }, &column);
            assert_eq!(cells[0], Cell::Visits { row: 1, span: 3, visits: vec![(0, false), (1, false)] });
            assert!(matches!(cells[1], Cell::Free { row: 4, .. }));
            assert_eq!(cells[2], Cell::Visits { row: 5, span: 2, visits: vec![(2, true)] });
            // What is left of the booking elsewhere after our visit: 10:30-11:00.
            assert_eq!(
                cells[3],
                Cell::Elsewhere {
                    row: 7,
                    span: 2,
                    starts: NaiveTime::from_hms_opt(10, 30, 0).expect("t"),
                    ends: NaiveTime::from_hms_opt(11, 0, 0).expect("t"),
                }
            );
            assert!(matches!(cells[4], Cell::Free { row: 9, .. }));
        }

        #[test]
        fn a_visit_over_midnight_is_clipped_to_the_day_and_a_skipped_hour_is_never_open() {
            let visits = [Span { starts: at(day(), 23, 30), ends: at(day(), 23, 30) + Duration::hours(2) }];
            let column = Column { date: day(), open: &[], visits: &visits, elsewhere: &[] };
            let cells = lay_out(ZONE, Window { first: 92, last: 96 }, &column);
            assert_eq!(cells.last(), Some(&Cell::Visits { row: 3, span: 2, visits: vec![(0, false)] }));

            // 8 March 2026: 02:00-03:00 does not exist in New York.
            let change = NaiveDate::from_ymd_opt(2026, 3, 8).expect("date");
            let open = [Span {
                starts: Utc.with_ymd_and_hms(2026, 3, 8, 5, 0, 0).unwrap(),
                ends: Utc.with_ymd_and_hms(2026, 3, 8, 9, 0, 0).unwrap(),
            }];
            let column = Column { date: change, open: &open, visits: &[], elsewhere: &[] };
            let cells = lay_out(ZONE, Window { first: 0, last: 16 }, &column);
            let skipped: Vec<&Cell> =
                cells.iter().filter(|c| matches!(c, Cell::Free { at: None, .. })).collect();
            assert_eq!(skipped.len(), 4, "{cells:?}");
            assert!(skipped.iter().all(|c| matches!(c, Cell::Free { open: false, .. })));
        }

        #[test]
        fn working_hours_on_the_clinics_clock_land_on_the_viewers_rows() {
            let hours = [domain::Hours {
                weekday: 1,
                starts: NaiveTime::from_hms_opt(9, 0, 0).expect("t"),
                ends: NaiveTime::from_hms_opt(17, 0, 0).expect("t"),
            }];
            let spans = open_spans(chrono_tz::America::Los_Angeles, &hours, day());
            assert_eq!(spans.len(), 1);
            // 09:00 in Los Angeles is 12:00 in New York.
            assert_eq!(rows_of(ZONE, day(), &spans[0]), Some((48, 80)));
        }
    }
}
