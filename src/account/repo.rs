use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::UserId;

pub(crate) struct Identity {
    pub email: String,
    pub display_name: String,
}

pub async fn set_password_hash(db: &mut PgConnection, user: UserId, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE users SET password_hash = $2 WHERE id = $1", user.as_uuid(), hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn password_hash(db: &mut PgConnection, user: UserId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT password_hash FROM users WHERE id = $1", user.as_uuid()).fetch_one(db).await
}

pub async fn email_taken(db: &mut PgConnection, email: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users WHERE email = $1) AS "t!""#, email)
        .fetch_one(db)
        .await
}

/// Moves the account to a verified new address, unless another account took it
/// meanwhile: whether it moved.
pub async fn change_email(
    db: &mut PgConnection,
    user: UserId,
    email: &str,
    verified_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query!(
        "UPDATE users SET email = $2, email_verified_at = $3 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE email = $2)",
        user.as_uuid(),
        email,
        verified_at
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// What a passkey registration names the account by.
pub async fn identity(db: &mut PgConnection, user: UserId) -> Result<Identity, sqlx::Error> {
    sqlx::query_as!(
        Identity,
        r#"SELECT email::text AS "email!", display_name FROM users WHERE id = $1"#,
        user.as_uuid()
    )
    .fetch_one(db)
    .await
}

/// The person's own timezone, when they chose one.
pub async fn timezone(db: &mut PgConnection, user: UserId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT timezone FROM users WHERE id = $1", user.as_uuid()).fetch_one(db).await
}

/// Sets (or with None clears: the clinic's then) the person's timezone.
pub async fn set_timezone(
    db: &mut PgConnection,
    user: UserId,
    zone: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE users SET timezone = $2 WHERE id = $1", user.as_uuid(), zone).execute(db).await?;
    Ok(())
}
