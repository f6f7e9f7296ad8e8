use askama::Template;

#[derive(Template)]
#[template(path = "home/index.html")]
pub struct HomePage;

pub struct Card {
    pub title: String,
    pub text: String,
    /// (label, href)
    pub link: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "home/workspace.html")]
pub struct PersonaHome {
    pub heading: String,
    pub context: String,
    pub cards: Vec<Card>,
}
