use askama::Template;

/// The form for a new version, as typed (kept when it comes back with a message).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct PublishForm {
    pub kind: String,
    pub version: String,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Default)]
pub(crate) struct PublishErrors {
    pub kind: Option<String>,
    pub version: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
}

impl PublishErrors {
    pub fn any(&self) -> bool {
        self.kind.is_some() || self.version.is_some() || self.title.is_some() || self.body.is_some()
    }
}

pub(crate) struct VersionRow {
    pub href: String,
    pub version: String,
    pub title: String,
    pub effective: String,
    /// The one people are asked to accept now.
    pub current: bool,
}

/// One kind of document and its versions, newest first.
pub(crate) struct KindSection {
    pub value: &'static str,
    pub label: &'static str,
    pub asked_of: &'static str,
    pub versions: Vec<VersionRow>,
}

#[derive(Template)]
#[template(path = "consent_documents/list.html")]
pub(crate) struct DocumentsPage {
    pub heading: &'static str,
    pub intro: &'static str,
    /// Where the form posts (the page's own address).
    pub action: &'static str,
    pub sections: Vec<KindSection>,
    pub notice: Option<String>,
    pub form: PublishForm,
    pub errors: PublishErrors,
}

#[derive(Template)]
#[template(path = "consent_documents/document.html")]
pub(crate) struct DocumentPage {
    pub back: &'static str,
    pub back_label: &'static str,
    pub kind: &'static str,
    pub title: String,
    pub version: String,
    pub effective: String,
    pub body: String,
}
