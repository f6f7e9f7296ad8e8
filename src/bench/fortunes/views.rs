use askama::Template;

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Fortune {
    pub id: i32,
    pub message: String,
}

#[derive(Template)]
#[template(path = "bench/fortunes.html")]
pub(crate) struct FortunesPage {
    pub fortunes: Vec<Fortune>,
}
