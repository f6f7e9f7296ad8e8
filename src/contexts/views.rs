use askama::Template;

pub(crate) struct OptionRow {
    pub key: String,
    pub role: String,
    pub organization: Option<String>,
    pub patient: Option<String>,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "contexts/picker.html")]
pub(crate) struct PickerPage {
    /// Clinics of the person's that are suspended (nothing there can be entered now).
    pub suspended: Vec<String>,
    pub options: Vec<OptionRow>,
}

pub(crate) struct DocumentRow {
    pub id: String,
    pub title: String,
    pub version: String,
    pub body: String,
}

#[derive(Template)]
#[template(path = "contexts/consent.html")]
pub(crate) struct ConsentPage {
    pub documents: Vec<DocumentRow>,
    pub error: Option<String>,
}
