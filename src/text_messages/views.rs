use askama::Template;

pub(crate) struct TermsView {
    pub title: String,
    pub version: String,
    pub body: String,
}

#[derive(Template)]
#[template(path = "text_messages/page.html")]
pub(crate) struct TextMessagesPage {
    /// "Pat Doe": whose care the texts are about (shown to a proxy).
    pub about: Option<String>,
    pub terms: Option<TermsView>,
    /// (version, date) of the consent in force.
    pub consent: Option<(String, String)>,
    pub notice: Option<String>,
}
