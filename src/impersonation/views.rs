use askama::Template;

/// A request to act as a member, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct StartForm {
    pub membership: String,
    pub reason: String,
}

pub(crate) struct MemberLine {
    pub membership_id: String,
    pub name: String,
    pub role: &'static str,
    /// Why they cannot be acted as, if they cannot.
    pub not_offered: Option<&'static str>,
}

pub(crate) struct RecordLine {
    pub administrator: String,
    pub target: String,
    pub reason: String,
    pub period: String,
}

#[derive(Template)]
#[template(path = "impersonation/page.html")]
pub(crate) struct ImpersonationPage {
    pub members: Vec<MemberLine>,
    pub records: Vec<RecordLine>,
    pub form: StartForm,
    pub error: Option<String>,
}
