use axum::extract::State;

use super::ADDED_AT_REQUEST_TIME;
use super::views::{Fortune, FortunesPage};
use crate::db::tenant::platform_connection;
use crate::web::{AppResult, AppState, Page};

/// Every fortune plus one added now, sorted by message. The table holds no tenant data,
/// so the read is a single autocommit statement on a pooled connection.
pub async fn fortunes(State(state): State<AppState>) -> AppResult<Page<FortunesPage>> {
    let mut connection = platform_connection(&state.db).await?;
    let mut fortunes: Vec<Fortune> =
        sqlx::query_as("SELECT id, message FROM bench.fortune").fetch_all(&mut *connection).await?;
    drop(connection);
    fortunes.push(Fortune { id: 0, message: ADDED_AT_REQUEST_TIME.to_owned() });
    fortunes.sort_unstable_by(|a, b| a.message.cmp(&b.message));
    Ok(Page(FortunesPage { fortunes }))
}
