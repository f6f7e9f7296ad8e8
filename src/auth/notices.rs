//! Security notices: a person is told by e-mail about every change to how they sign in
//! (a factor added or removed, a password changed, a code used twice), at the address
//! they sign in with. The notice is queued in the caller's transaction, so it goes out
//! exactly when the change it reports is committed.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::auth::emails::SecurityNotice;
use crate::db::ids::UserId;
use crate::error::{AppError, AppResult};
use crate::notify::Notifier;

/// Queues a notice about `what` to `user`'s sign-in address.
pub(crate) async fn tell(
    conn: &mut PgConnection,
    notifier: &Notifier,
    user: UserId,
    what: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let address = crate::auth::people::email(conn, user).await?;
    tell_address(conn, notifier, &address, what, now).await
}

/// Queues a notice about `what` to `address` (the old address, after a change of it).
pub(crate) async fn tell_address(
    conn: &mut PgConnection,
    notifier: &Notifier,
    address: &str,
    what: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let when = now.format("%Y-%m-%d %H:%M UTC").to_string();
    let message = SecurityNotice { what: what.to_owned(), when }.render(address).map_err(AppError::from)?;
    crate::notify::jobs::queue_account_email(conn, notifier, &message, now).await?;
    Ok(())
}
