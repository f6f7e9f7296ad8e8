//! People: the global identities that sign in, looked up and created for the pages that
//! need them (invitations, the members page, proxies), and what they are to the
//! platform (workforce or not).

use sqlx::PgConnection;

use crate::db::ids::UserId;

/// The person with this e-mail address, created (without a password, so only an
/// invitation can finish it) when there is none. Platform work: runs in a system
/// transaction (people belong to no clinic). An existing person's name is never
/// changed here, and the caller learns nothing about them but the id.
pub(crate) async fn find_or_create(
    conn: &mut PgConnection,
    email: &str,
    display_name: &str,
) -> Result<UserId, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH created AS (
               INSERT INTO users (email, display_name) VALUES ($1, $2)
               ON CONFLICT (email) DO NOTHING RETURNING id)
           SELECT id AS "id!: UserId" FROM created
           UNION ALL SELECT id FROM users WHERE email = $1
           LIMIT 1"#,
        email,
        display_name
    )
    .fetch_one(conn)
    .await
}

/// Whether `email` reaches `user`'s own mailbox (their sign-in address, with or without
/// a +tag or Gmail's dots): nobody invites themselves or makes themselves a patient's
/// proxy under a second address of theirs.
pub(crate) async fn is_own_mailbox(
    conn: &mut PgConnection,
    user: UserId,
    email: &str,
) -> Result<bool, sqlx::Error> {
    let mine = self::email(conn, user).await?;
    Ok(crate::contact_info::mailbox_key(&mine) == crate::contact_info::mailbox_key(email))
}

/// Whether a person holds any workforce role (staff or platform): longer passwords, a
/// second factor that cannot be removed.
pub(crate) async fn is_workforce(conn: &mut PgConnection, user: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM user_contexts WHERE user_id = $1 AND kind = 'staff')
               OR EXISTS (SELECT 1 FROM platform_roles WHERE user_id = $1 AND revoked_at IS NULL) AS "w!""#,
        user.as_uuid()
    )
    .fetch_one(conn)
    .await
}

/// A person's sign-in address.
pub async fn email(conn: &mut PgConnection, user: UserId) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT email::text AS "email!" FROM users WHERE id = $1"#, user.as_uuid())
        .fetch_one(conn)
        .await
}

/// A person's name as they gave it (for notices that say who did something).
pub(crate) async fn display_name(conn: &mut PgConnection, user: UserId) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!("SELECT display_name FROM users WHERE id = $1", user.as_uuid()).fetch_one(conn).await
}
