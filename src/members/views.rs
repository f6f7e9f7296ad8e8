use askama::Template;

pub(crate) struct MemberRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub status: String,
    pub is_me: bool,
    pub is_privacy_officer: bool,
}

pub(crate) struct PendingRow {
    pub email: String,
    pub expires: String,
}

#[derive(Default)]
pub(crate) struct InviteForm {
    pub display_name: String,
    pub email: String,
    pub roles: Vec<String>,
}

impl InviteForm {
    pub(crate) fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Default)]
pub(crate) struct InviteErrors {
    pub name: Option<String>,
    pub email: Option<String>,
    pub roles: Option<String>,
}

/// A request under the two-person rule, waiting for a second administrator.
pub(crate) struct ApprovalRow {
    pub id: String,
    pub requester: String,
    /// "the Provider role here as well", "a reset of their own second factor".
    pub asks: String,
    pub reason: String,
    pub requested: String,
    /// The viewer asked: they may withdraw it, never approve it.
    pub mine: bool,
}

/// What an administrator asks for themselves, kept as typed when it comes back.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RequestForm {
    pub kind: String,
    pub role: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "members/index.html")]
pub(crate) struct MembersPage {
    pub clinic: String,
    pub notice: Option<String>,
    pub members: Vec<MemberRow>,
    pub pending: Vec<PendingRow>,
    pub roles: Vec<(&'static str, &'static str)>,
    pub form: InviteForm,
    pub errors: InviteErrors,
    pub approvals: Vec<ApprovalRow>,
    pub request: RequestForm,
    pub request_error: Option<String>,
}
