use askama::Template;

use super::domain::{Problems, Typed};

pub(crate) struct PolicyRow {
    pub id: String,
    pub priority: &'static str,
    pub payer: String,
    pub plan_name: Option<String>,
    pub member_id: String,
    pub group_number: Option<String>,
    /// "Ana Silva (the patient)" or "John Silva, spouse or partner, born 1980-02-03".
    pub subscriber: String,
    pub effective: Option<String>,
    /// For an ended policy: when and why.
    pub ended: Option<String>,
}

#[derive(Template)]
#[template(path = "insurance/section.html")]
pub(crate) struct InsuranceSection {
    pub patient_id: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub current: Vec<PolicyRow>,
    pub ended: Vec<PolicyRow>,
    pub can_edit: bool,
    pub form: Typed,
    pub problems: Problems,
    pub priorities: [(&'static str, &'static str); 3],
    pub relationships: [(&'static str, &'static str); 4],
}
