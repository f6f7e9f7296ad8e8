use askama::Template;

#[derive(Template)]
#[template(path = "home/index.html")]
pub(crate) struct HomePage;

pub(crate) struct Card {
    pub title: String,
    pub text: String,
    /// (label, href)
    pub link: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "home/workspace.html")]
pub(crate) struct PersonaHome {
    pub heading: String,
    pub context: String,
    pub cards: Vec<Card>,
}
