use askama::Template;

use super::domain::MergeForm;

/// One chart as the merge page shows it, side by side with the other.
pub(crate) struct Side {
    pub name: String,
    pub born: String,
    pub mrn: String,
    pub portal: bool,
    pub visits: i64,
    pub notes: i64,
    pub contacts: i64,
}

#[derive(Template)]
#[template(path = "merges/form.html")]
pub(crate) struct MergePage {
    pub patient_id: String,
    pub survivor: Side,
    /// Once a duplicate was named: it, to compare before confirming.
    pub duplicate: Option<Side>,
    pub form: MergeForm,
    pub mrn_error: Option<String>,
    pub reason_error: Option<&'static str>,
    pub confirm_error: Option<&'static str>,
}
