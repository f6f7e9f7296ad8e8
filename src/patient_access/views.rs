use askama::Template;

pub(crate) struct ProxyRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub relationship: String,
    pub scopes: String,
    pub expires: Option<String>,
    pub status: String,
    pub clinical: bool,
    pub billing: bool,
    pub scheduling: bool,
    pub messaging: bool,
    pub proof_note: Option<String>,
    /// Someone allowed to set contact safety confirmed that messages may go to them.
    pub messages_safe: bool,
}

#[derive(Default)]
pub(crate) struct ProxyForm {
    pub display_name: String,
    pub email: String,
    pub relationship: String,
    pub clinical: bool,
    pub billing: bool,
    pub scheduling: bool,
    pub messaging: bool,
    pub expires_on: String,
    pub proof_note: String,
    /// "Reminders and messages may go to this person" (contact-safety staff only).
    pub messages_safe: bool,
}

#[derive(Default)]
pub(crate) struct ProxyErrors {
    pub name: Option<String>,
    /// Scopes the asking person may not grant.
    pub scopes: Option<String>,
    pub email: Option<String>,
    pub expires: Option<String>,
    pub proof: Option<String>,
}

#[derive(Template)]
#[template(path = "patient_access/index.html")]
pub(crate) struct AccessPage {
    pub patient_id: String,
    pub patient_name: String,
    pub notice: Option<String>,
    pub portal_email: Option<String>,
    pub portal_form_email: String,
    pub portal_error: Option<String>,
    pub proxies: Vec<ProxyRow>,
    pub relationships: Vec<(&'static str, &'static str)>,
    pub proxy_form: ProxyForm,
    pub proxy_errors: ProxyErrors,
    pub can_manage: bool,
    /// May decide where messages go (grant message-carrying scopes, confirm an address).
    pub can_set_safety: bool,
    /// A change to one existing grant that could not be saved: (grant id, why).
    pub row_error: Option<(String, String)>,
}
