use askama::Template;

pub(crate) struct VisitRow {
    pub id: String,
    pub patient_id: String,
    pub patient: String,
    pub provider: String,
    pub kind: String,
    pub time: String,
    pub status: String,
    pub status_label: &'static str,
    /// For a patient waiting: how long since check-in.
    pub waiting: Option<String>,
}

pub(crate) struct DraftRow {
    pub href: String,
    pub patient: String,
    pub title: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "homes/front_desk.html")]
pub(crate) struct FrontDeskHome {
    pub today: String,
    pub arrivals: Vec<VisitRow>,
    pub waiting: Vec<VisitRow>,
    pub no_shows: Vec<VisitRow>,
    pub done: usize,
    pub open_tasks: i64,
    pub can_check_in: bool,
}

#[derive(Template)]
#[template(path = "homes/clinician.html")]
pub(crate) struct ClinicianHome {
    pub today: String,
    pub visits: Vec<VisitRow>,
    pub drafts: Vec<DraftRow>,
}

#[derive(Template)]
#[template(path = "homes/rooming.html")]
pub(crate) struct RoomingHome {
    pub today: String,
    pub queue: Vec<VisitRow>,
    pub next_up: Vec<VisitRow>,
}

#[derive(Template)]
#[template(path = "homes/calls.html")]
pub(crate) struct CallsHome {
    pub today: String,
}

pub(crate) struct LicenceRow {
    pub href: String,
    pub provider: String,
    pub licence: String,
    pub expires_on: String,
    pub expired: bool,
}

/// The clinic administrator's home: what needs them (licences running out, providers who
/// cannot be booked yet) and where the clinic is run from.
#[derive(Template)]
#[template(path = "homes/admin.html")]
pub(crate) struct AdminHome {
    pub today: String,
    /// What was just done ("Done: …"), after closing a task.
    pub done: Option<String>,
    /// The weekly job's tasks still open.
    pub tasks: Vec<AdminTaskRow>,
    pub licences: Vec<LicenceRow>,
    /// (profile link, name).
    pub unbookable: Vec<(String, String)>,
}

/// A task for the administrators, with where to deal with it and how to close it.
pub(crate) struct AdminTaskRow {
    pub summary: String,
    pub profile: Option<String>,
    pub close: String,
    /// Its date has passed (a licence that ran out).
    pub overdue: bool,
}
