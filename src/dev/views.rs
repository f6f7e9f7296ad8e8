use askama::Template;

/// One kept message.
pub(crate) struct Kept {
    pub heading: String,
    pub meta: String,
    pub body: String,
    pub links: Vec<String>,
}

/// The list of what a development channel kept.
#[derive(Template)]
#[template(path = "dev/kept.html")]
pub(crate) struct KeptPage {
    pub title: &'static str,
    pub explanation: &'static str,
    pub items: Vec<Kept>,
}
