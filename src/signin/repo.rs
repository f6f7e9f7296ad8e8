use sqlx::PgConnection;

use crate::db::ids::UserId;

/// The account an e-mail address belongs to, if any.
pub(crate) struct Account {
    pub id: UserId,
    pub password_hash: Option<String>,
    pub disabled: bool,
}

pub async fn account_by_email(db: &mut PgConnection, email: &str) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query_as!(
        Account,
        r#"SELECT id AS "id: UserId", password_hash, (disabled_at IS NOT NULL OR deleted_at IS NOT NULL) AS "disabled!"
             FROM users WHERE email = $1"#,
        email
    )
    .fetch_optional(db)
    .await
}

/// A stored hash upgraded to the current parameters at a successful sign-in.
pub async fn replace_hash(db: &mut PgConnection, user: UserId, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE users SET password_hash = $2 WHERE id = $1", user.as_uuid(), hash)
        .execute(db)
        .await?;
    Ok(())
}

/// A reset's new password, for an account that is not disabled: whether it was set.
pub async fn reset_password(db: &mut PgConnection, user: UserId, hash: &str) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query!(
        "UPDATE users SET password_hash = $2 WHERE id = $1 AND disabled_at IS NULL AND deleted_at IS NULL",
        user.as_uuid(),
        hash
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(changed > 0)
}
