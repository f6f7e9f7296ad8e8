use askama::Template;

pub struct OptionRow {
    pub key: String,
    pub role: String,
    pub organization: Option<String>,
    pub patient: Option<String>,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "contexts/picker.html")]
pub struct PickerPage {
    pub options: Vec<OptionRow>,
}

pub struct DocumentRow {
    pub id: String,
    pub title: String,
    pub version: String,
    pub body: String,
}

#[derive(Template)]
#[template(path = "contexts/consent.html")]
pub struct ConsentPage {
    pub documents: Vec<DocumentRow>,
    pub error: Option<String>,
}
