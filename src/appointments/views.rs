use askama::Template;
use chrono::NaiveTime;

use super::domain::Clock;

/// One appointment as a row on any schedule view.
pub struct Visit {
    pub id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub provider_name: String,
    pub type_name: String,
    pub date: String,
    /// "09:00–09:30 EST" on the viewer's clock.
    pub time: String,
    pub status: String,
    pub status_label: &'static str,
    /// Hidden from roles that do not see clinical context (call center), and from a
    /// proxy without the clinical scope or for a sensitive visit.
    pub reason: Option<String>,
    pub sensitive: bool,
    pub can_check_in: bool,
    pub can_complete: bool,
    pub can_no_show: bool,
    pub can_cancel: bool,
    /// Checked in today: the front desk may take it back (a wrong patient, a mistake).
    pub can_undo_check_in: bool,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct BookingForm {
    pub provider_id: String,
    pub type_id: String,
    pub date: String,
    pub time: String,
    pub reason: String,
    pub outside_hours: String,
    /// Ticked: a sensitive visit (its reason never shown to a proxy, no reminder to one).
    pub sensitive: String,
    pub return_to: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct BookingErrors {
    pub provider: Option<String>,
    pub kind: Option<String>,
    pub date: Option<String>,
    pub time: Option<String>,
    pub reason: Option<String>,
    /// The slot itself: taken, outside working hours.
    pub slot: Option<String>,
}

impl BookingErrors {
    pub fn any(&self) -> bool {
        self.provider.is_some()
            || self.kind.is_some()
            || self.date.is_some()
            || self.time.is_some()
            || self.reason.is_some()
            || self.slot.is_some()
    }
}

/// Choices for the booking form.
pub(crate) struct Choices {
    pub providers: Vec<(String, String)>,
    pub types: Vec<(String, String)>,
    /// The zone times are typed in ("EST", "Europe/Berlin").
    pub zone: String,
}

#[derive(Template)]
#[template(path = "appointments/section.html")]
pub(crate) struct AppointmentsSection {
    pub patient_id: String,
    /// Where schedule actions send the person back to.
    pub return_to: String,
    pub notice: Option<String>,
    pub upcoming: Vec<Visit>,
    pub past: Vec<Visit>,
    pub can_book: bool,
    pub choices: Choices,
    pub form: BookingForm,
    pub errors: BookingErrors,
    /// The slot finder: what was asked (kind, provider or empty for any), and what it found.
    pub slot_kind: String,
    pub slot_provider: String,
    pub slots: Option<Vec<SlotRow>>,
    pub slot_error: Option<&'static str>,
    /// The booking form holds a slot chosen on the schedule: shown first, with a word.
    pub prefilled: bool,
}

/// A free slot the finder offers, ready to book.
pub(crate) struct SlotRow {
    pub provider_id: String,
    pub provider_name: String,
    /// On the viewer's clock, as the booking form takes them.
    pub date: String,
    pub time: String,
    pub label: String,
}

/// A day or a week drawn as a time grid (see `grid`): rows of a quarter hour, a column
/// per provider or per day.
pub(crate) struct TimeGrid {
    /// One per row: its grid line and, on the hour, its label.
    pub times: Vec<(usize, Option<Clock<NaiveTime>>)>,
    pub columns: Vec<GridColumn>,
    /// Cancelled visits are not in the grid (their time is free again): listed below it.
    pub cancelled: Vec<Visit>,
}

pub(crate) struct GridColumn {
    /// For ids in the page ("col-<key>").
    pub key: String,
    pub heading: String,
    pub href: String,
    pub hours: String,
    /// Said after "Book 09:15": "with Dr Ada Lovelace, MD", "on Tuesday 8 December".
    pub booking: String,
    pub cells: Vec<GridCell>,
}

pub(crate) enum GridCell {
    /// A free quarter hour: inside working hours or not, and, when the viewer may book
    /// it, the registry's next step for the patient they choose.
    Free {
        row: usize,
        time: Clock<NaiveTime>,
        open: bool,
        book: Option<String>,
    },
    /// The provider is seeing a patient at another clinic.
    Elsewhere {
        row: usize,
        span: usize,
        label: String,
    },
    Visits {
        row: usize,
        span: usize,
        visits: Vec<GridVisit>,
    },
}

pub(crate) struct GridVisit {
    pub visit: Visit,
    /// The provider is booked at another clinic at the same time.
    pub conflict: bool,
}

#[derive(Template)]
#[template(path = "appointments/day.html")]
pub(crate) struct DayPage {
    pub date: String,
    pub heading: String,
    pub previous: String,
    pub next: String,
    pub today: String,
    pub zone: String,
    pub grid: TimeGrid,
    pub can_configure: bool,
    pub return_to: String,
    pub total: usize,
}

#[derive(Template)]
#[template(path = "appointments/week.html")]
pub(crate) struct WeekPage {
    pub provider_id: String,
    pub provider_name: String,
    pub heading: String,
    pub previous: String,
    pub next: String,
    pub zone: String,
    pub grid: TimeGrid,
    pub return_to: String,
}

#[derive(Template)]
#[template(path = "appointments/detail.html")]
pub(crate) struct DetailPage {
    pub visit: Visit,
    pub can_reschedule: bool,
    /// Whether to offer writing the note for this visit (the note form checks the chart).
    pub can_write_note: bool,
    pub choices: Choices,
    pub form: BookingForm,
    pub errors: BookingErrors,
    pub notice: Option<String>,
    pub return_to: String,
    /// The cancellation form as sent, and what is wrong with it.
    pub cancel: CancelForm,
    pub cancel_error: Option<String>,
}

/// Cancelling asks for a tick in "yes, cancel it": one stray click does not cancel a visit.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct CancelForm {
    pub return_to: String,
    pub reason: String,
    pub confirm: String,
}

pub(crate) struct ProviderHours {
    pub id: String,
    pub name: String,
    /// (hours id, weekday, "09:00–17:00").
    pub blocks: Vec<(String, &'static str, String)>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct HoursForm {
    pub provider_id: String,
    pub weekday: String,
    pub starts: String,
    pub ends: String,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct TypeForm {
    pub name: String,
    pub duration_minutes: String,
    /// Ticked: every visit of this type is sensitive.
    pub sensitive: String,
}

pub(crate) struct TypeRow {
    pub id: String,
    pub name: String,
    pub minutes: i32,
    pub active: bool,
    pub sensitive: bool,
}

#[derive(Template)]
#[template(path = "appointments/setup.html")]
pub(crate) struct SetupPage {
    pub notice: Option<String>,
    pub providers: Vec<ProviderHours>,
    pub types: Vec<TypeRow>,
    pub weekdays: [&'static str; 7],
    pub hours_form: HoursForm,
    pub hours_error: Option<String>,
    pub type_form: TypeForm,
    pub type_error: Option<String>,
    pub zone: String,
}
