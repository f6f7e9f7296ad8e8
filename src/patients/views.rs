use askama::Template;

use super::domain::{PatientErrors, PatientForm, SEXES};

/// One search result.
pub(crate) struct PatientHit {
    /// Their chart, or the section the registry was asked to open next.
    pub href: String,
    pub name: String,
    pub date_of_birth: String,
    pub age: i32,
    pub mrn: String,
    pub sex: &'static str,
}

/// The registry: the search box and the first results.
#[derive(Template)]
#[template(path = "patients/registry.html")]
pub(crate) struct RegistryPage {
    pub can_register: bool,
    /// May see the recently removed patients (and put one back).
    pub can_restore: bool,
    /// What the box held (kept on a full-page search).
    pub query: String,
    /// Picking a patient for something begun elsewhere: where the choice goes, and the
    /// label of that chart section.
    pub then: String,
    pub then_label: Option<&'static str>,
}

/// Search results (the typeahead swaps these in; "Show more" appends the next page).
#[derive(Template)]
#[template(path = "patients/_results.html")]
pub(crate) struct SearchResults {
    pub query: String,
    pub hits: Vec<PatientHit>,
    /// The last hit's id when there is another page.
    pub next_after: Option<String>,
    /// A continuation page: rows only, appended to the list already shown.
    pub continuation: bool,
    /// What the box was read as ("name", "date of birth", ...), for the summary line.
    pub read_as: &'static str,
    /// Carried by "Show more" (see `RegistryPage::then`).
    pub then: String,
}

/// A possible duplicate shown before registering.
pub(crate) struct Candidate {
    pub id: String,
    pub name: String,
    pub date_of_birth: String,
    pub mrn: String,
    pub reason: &'static str,
}

#[derive(Template)]
#[template(path = "patients/register.html")]
pub(crate) struct RegisterPage {
    pub form: PatientForm,
    pub errors: PatientErrors,
    pub sexes: [(&'static str, &'static str); 4],
    /// Patients the typed name and date of birth match (what the person typed; the MRN
    /// and a link to open the chart).
    pub candidates: Vec<Candidate>,
    /// How many other records share the typed mobile number. They are not named: a number
    /// is not a name, and an error page shows only what the form needs.
    pub shared_phone: usize,
}

impl RegisterPage {
    pub fn new(form: PatientForm, errors: PatientErrors, candidates: Vec<Candidate>) -> Self {
        Self { form, errors, sexes: SEXES, candidates, shared_phone: 0 }
    }
}

/// A labelled value on the summary.
pub(crate) struct Fact {
    pub label: &'static str,
    pub value: String,
}

pub(crate) struct UpcomingVisit {
    pub when: String,
    pub provider: String,
    pub kind: String,
    pub status: String,
}

/// The chart's summary section.
#[derive(Template)]
#[template(path = "patients/summary.html")]
pub(crate) struct SummarySection {
    pub patient_id: String,
    pub notice: Option<String>,
    pub facts: Vec<Fact>,
    pub can_edit: bool,
    pub upcoming: Vec<UpcomingVisit>,
    pub can_see_schedule: bool,
}

/// The demographics form on the chart.
#[derive(Template)]
#[template(path = "patients/edit.html")]
pub(crate) struct EditSection {
    pub patient_id: String,
    /// May take the patient out of the registry (the front desk).
    pub can_remove: bool,
    pub form: PatientForm,
    pub errors: PatientErrors,
    pub sexes: [(&'static str, &'static str); 4],
}

/// What taking a patient out of the registry will do, asked to be confirmed.
#[derive(Template)]
#[template(path = "patients/remove.html")]
pub(crate) struct RemoveSection {
    pub patient_id: String,
    pub name: String,
    pub upcoming_visits: i64,
    pub proxy_grants: i64,
    pub undo_days: i64,
    pub form: RemoveForm,
    pub reason_error: Option<String>,
    pub confirm_error: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RemoveForm {
    pub reason: String,
    pub confirm: String,
}

pub(crate) struct RemovedRow {
    pub id: String,
    pub name: String,
    pub mrn: String,
    pub date_of_birth: String,
    pub removed: String,
    pub removed_by: String,
    pub reason: String,
}

/// The patients taken out of the registry recently, each with a way back.
#[derive(Template)]
#[template(path = "patients/removed.html")]
pub(crate) struct RemovedPage {
    pub rows: Vec<RemovedRow>,
    pub undo_days: i64,
    pub notice: Option<String>,
}
