use askama::Template;

pub(crate) struct MedicationRow {
    pub id: String,
    pub name: String,
    /// "500 mg, twice daily".
    pub sig: String,
    pub started: Option<String>,
    pub prescriber: Option<String>,
    pub recorded: String,
    /// For a stopped one: "2026-11-02 (Side effects: nausea)".
    pub stopped: Option<String>,
}

/// The add form: what was typed (kept on a refusal) and each field's problem.
#[derive(Default)]
pub(crate) struct AddForm {
    pub name: String,
    pub dose: String,
    pub frequency: String,
    pub started_on: String,
    pub prescriber: String,
    pub name_error: Option<&'static str>,
    pub dose_error: Option<&'static str>,
    pub frequency_error: Option<&'static str>,
    pub started_error: Option<&'static str>,
    pub prescriber_error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "medications/section.html")]
pub(crate) struct MedicationsSection {
    pub patient_id: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub current: Vec<MedicationRow>,
    pub stopped: Vec<MedicationRow>,
    pub can_record: bool,
    pub today: String,
    pub form: AddForm,
    pub stop_reasons: [(&'static str, &'static str); 5],
}
