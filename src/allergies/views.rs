use askama::Template;

pub(crate) struct AllergyRow {
    pub id: String,
    pub substance: String,
    pub reaction: Option<String>,
    pub severity: &'static str,
    pub severe: bool,
    pub recorded: String,
}

pub(crate) struct EndedRow {
    pub substance: String,
    pub ended: String,
    pub reason: String,
}

/// What the add form holds: the values typed (kept on a refusal) and each field's problem.
#[derive(Default)]
pub(crate) struct AddForm {
    pub substance: String,
    pub reaction: String,
    pub severity: String,
    pub substance_error: Option<&'static str>,
    pub reaction_error: Option<&'static str>,
    pub severity_error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "allergies/section.html")]
pub(crate) struct AllergiesSection {
    pub patient_id: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub allergies: Vec<AllergyRow>,
    pub ended: Vec<EndedRow>,
    /// "No known allergies", stated when and by whom.
    pub none_known: Option<String>,
    pub can_record: bool,
    pub form: AddForm,
    pub severities: [(&'static str, &'static str); 4],
    pub end_reasons: [(&'static str, &'static str); 2],
}
