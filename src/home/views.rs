use askama::Template;

#[derive(Template)]
#[template(path = "home/index.html")]
pub struct HomePage;
