use axum::extract::State;

use super::ADDED_AT_REQUEST_TIME;
use super::views::{Fortune, FortunesPage};
use crate::db::tenant::platform_connection;
use crate::web::{AppResult, AppState, Page};

const FORTUNES: &str = "SELECT id, message FROM bench.fortune";

/// Every fortune plus one added now, sorted by message. The table holds no tenant data,
/// so the read is one autocommit statement on a pooled connection.
pub async fn fortunes(State(state): State<AppState>) -> AppResult<Page<FortunesPage>> {
    let mut fortunes: Vec<Fortune> = {
        let mut connection = platform_connection(&state.db).await?;
        sqlx::query_as(FORTUNES).fetch_all(&mut *connection).await?
    };
    fortunes.push(Fortune { id: 0, message: ADDED_AT_REQUEST_TIME.to_owned() });
    fortunes.sort_unstable_by(|a, b| a.message.cmp(&b.message));
    Ok(Page(FortunesPage { fortunes }))
}
