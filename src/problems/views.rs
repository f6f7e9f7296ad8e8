use askama::Template;

pub(crate) struct ProblemRow {
    pub id: String,
    pub description: String,
    /// "ICD-10 E11.9".
    pub code: Option<String>,
    pub onset: Option<String>,
    pub resolved: Option<String>,
    pub recorded: String,
}

/// The add form: what was typed (kept on a refusal) and each field's problem.
#[derive(Default)]
pub(crate) struct AddForm {
    pub description: String,
    pub code: String,
    pub onset_on: String,
    pub description_error: Option<&'static str>,
    pub code_error: Option<&'static str>,
    pub onset_error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "problems/section.html")]
pub(crate) struct ProblemsSection {
    pub patient_id: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub active: Vec<ProblemRow>,
    pub resolved: Vec<ProblemRow>,
    pub can_record: bool,
    pub today: String,
    pub form: AddForm,
}
