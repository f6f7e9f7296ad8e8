use askama::Template;

/// A new clinic and its first administrator, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct CreateForm {
    pub name: String,
    pub timezone: String,
    pub admin_name: String,
    pub admin_email: String,
    /// Set when the person confirmed a second clinic of the same name.
    pub same_name: String,
}

#[derive(Debug, Default)]
pub(crate) struct CreateErrors {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub admin_name: Option<String>,
    pub admin_email: Option<String>,
}

impl CreateErrors {
    pub fn any(&self) -> bool {
        self.name.is_some()
            || self.timezone.is_some()
            || self.admin_name.is_some()
            || self.admin_email.is_some()
    }
}

pub(crate) struct ClinicRow {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub status: String,
    pub suspension: Option<String>,
    pub members: i64,
    pub patients: i64,
    pub last_activity: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "platform_clinics/page.html")]
pub(crate) struct ClinicsPage {
    pub notice: Option<String>,
    pub clinics: Vec<ClinicRow>,
    pub form: CreateForm,
    pub errors: CreateErrors,
    /// Asks to confirm a second clinic of the same name.
    pub confirm_same_name: bool,
    pub zones: Vec<&'static str>,
    /// A suspension's reason was missing (for that clinic's id).
    pub reason_error: Option<(String, String)>,
}
