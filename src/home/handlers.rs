use super::views::HomePage;
use crate::web::Page;

pub async fn index() -> Page<HomePage> {
    Page(HomePage)
}
