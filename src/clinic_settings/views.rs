use askama::Template;

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SettingsForm {
    pub timezone: String,
    pub chart_access: String,
    /// Who may give a proxy access to clinical records: "access_managers" (everyone who
    /// manages proxies) or "providers".
    pub proxy_clinical_grants: String,
    pub session_idle_minutes: String,
    /// Minutes an emergency access (break-glass) lasts: 5 to 60, empty for 60.
    pub break_glass_minutes: String,
    pub require_patient_mfa: String,
    /// "72, 24": hours before an appointment at which reminders go out.
    pub reminder_leads: String,
    pub window_start: String,
    pub window_end: String,
    pub callback_phone: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SettingsErrors {
    pub timezone: Option<String>,
    pub idle: Option<String>,
    pub break_glass: Option<String>,
    pub leads: Option<String>,
    pub window: Option<String>,
    pub callback: Option<String>,
}

impl SettingsErrors {
    pub fn any(&self) -> bool {
        self.timezone.is_some()
            || self.idle.is_some()
            || self.break_glass.is_some()
            || self.leads.is_some()
            || self.window.is_some()
            || self.callback.is_some()
    }
}

#[derive(Template)]
#[template(path = "clinic_settings/page.html")]
pub(crate) struct SettingsPage {
    pub clinic: String,
    pub form: SettingsForm,
    pub errors: SettingsErrors,
    pub notice: Option<String>,
    pub zones: Vec<&'static str>,
}

/// A part of the product, and whether the clinic uses it.
pub(crate) struct ModuleRow {
    pub value: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub used: bool,
}

#[derive(Template)]
#[template(path = "clinic_settings/modules.html")]
pub(crate) struct ModulesPage {
    pub notice: Option<String>,
    /// The parts that exist, to switch on or off.
    pub modules: Vec<ModuleRow>,
    /// The parts not built yet (named, not offered).
    pub coming: Vec<&'static str>,
}
