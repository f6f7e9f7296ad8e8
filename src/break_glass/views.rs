use askama::Template;

/// A request for emergency access, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct AskForm {
    /// The clinic (platform console only).
    pub clinic: String,
    /// The patient's record number (platform console only).
    pub mrn: String,
    pub purpose: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub(crate) struct AskErrors {
    pub clinic: Option<String>,
    pub mrn: Option<String>,
    pub purpose: Option<String>,
    pub reason: Option<String>,
}

impl AskErrors {
    pub fn any(&self) -> bool {
        self.clinic.is_some() || self.mrn.is_some() || self.purpose.is_some() || self.reason.is_some()
    }
}

#[derive(Template)]
#[template(path = "break_glass/platform.html")]
pub(crate) struct PlatformPage {
    pub clinics: Vec<(String, String)>,
    pub purposes: Vec<(&'static str, &'static str)>,
    pub form: AskForm,
    pub errors: AskErrors,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "break_glass/staff.html")]
pub(crate) struct StaffPage {
    pub patient_id: String,
    pub mrn: String,
    pub minutes: i64,
    pub purposes: Vec<(&'static str, &'static str)>,
    pub form: AskForm,
    pub errors: AskErrors,
}

/// One grant in the clinic's log or the review queue.
pub(crate) struct GrantLine {
    pub clinic_id: String,
    pub id: String,
    pub clinic: String,
    pub mrn: String,
    pub who: String,
    pub purpose: String,
    pub reason: String,
    pub period: String,
    pub reads: i64,
    /// Over (ended or expired): it can be reviewed.
    pub over: bool,
    pub review: Option<String>,
}

#[derive(Template)]
#[template(path = "break_glass/log.html")]
pub(crate) struct LogPage {
    pub grants: Vec<GrantLine>,
}

#[derive(Template)]
#[template(path = "break_glass/queue.html")]
pub(crate) struct QueuePage {
    pub grants: Vec<GrantLine>,
    pub include_reviewed: bool,
    pub notice: Option<String>,
}

/// A review, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct ReviewForm {
    pub finding: String,
    pub note: String,
}

/// `?all=1` lists reviewed grants too.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct QueueQuery {
    pub all: String,
}
