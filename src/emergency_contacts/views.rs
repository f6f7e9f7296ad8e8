use askama::Template;

pub(crate) struct ContactRow {
    pub id: String,
    pub name: String,
    pub relationship: String,
    /// As dialled and as shown.
    pub phone: String,
    pub phone_display: String,
}

#[derive(Default)]
pub(crate) struct AddForm {
    pub name: String,
    pub relationship: String,
    pub phone: String,
    pub name_error: Option<&'static str>,
    pub relationship_error: Option<&'static str>,
    pub phone_error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "emergency_contacts/section.html")]
pub(crate) struct EmergencyContactsSection {
    pub patient_id: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub contacts: Vec<ContactRow>,
    pub can_edit: bool,
    pub full: bool,
    pub form: AddForm,
}
