use askama::Template;

/// A grant as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct GrantForm {
    pub email: String,
    pub role: String,
}

#[derive(Debug, Default)]
pub(crate) struct GrantErrors {
    pub email: Option<String>,
    pub role: Option<String>,
}

pub(crate) struct GrantRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub granted: String,
    /// Who ended it and when; `None` while it is live.
    pub ended: Option<String>,
    /// The signed-in person's own grant: they cannot end it here.
    pub own: bool,
}

#[derive(Template)]
#[template(path = "platform_roles/page.html")]
pub(crate) struct RolesPage {
    pub notice: Option<String>,
    pub live: Vec<GrantRow>,
    pub ended: Vec<GrantRow>,
    pub form: GrantForm,
    pub errors: GrantErrors,
    /// (value, label) of each platform role.
    pub roles: Vec<(&'static str, &'static str)>,
}
