use askama::Template;

pub struct ProxyRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub relationship: String,
    pub scopes: String,
    pub expires: Option<String>,
    pub status: String,
}

#[derive(Default)]
pub struct ProxyForm {
    pub display_name: String,
    pub email: String,
    pub relationship: String,
    pub clinical: bool,
    pub billing: bool,
    pub scheduling: bool,
    pub messaging: bool,
    pub expires_on: String,
}

#[derive(Default)]
pub struct ProxyErrors {
    pub name: Option<String>,
    pub email: Option<String>,
    pub expires: Option<String>,
}

#[derive(Template)]
#[template(path = "patient_access/index.html")]
pub struct AccessPage {
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
}
