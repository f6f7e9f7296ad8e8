use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::ids::UserId;

/// A grant of a platform role, live or ended.
pub(crate) struct Grant {
    pub id: Uuid,
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: String,
    pub granted_at: DateTime<Utc>,
    pub granted_by: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// Live grants first, then the most recent ended ones (a short history; row history and
/// the audit log keep all of it).
pub async fn grants(db: &mut PgConnection) -> Result<Vec<Grant>, sqlx::Error> {
    sqlx::query_as!(
        Grant,
        r#"(SELECT r.id AS "id!", r.user_id AS "user_id!: UserId", u.display_name AS "name!",
                   u.email::text AS "email!", r.role AS "role!", r.granted_at AS "granted_at!", g.display_name AS "granted_by?", r.revoked_at,
                   NULL::text AS "revoked_by?"
              FROM platform_roles r JOIN users u ON u.id = r.user_id LEFT JOIN users g ON g.id = r.granted_by
             WHERE r.revoked_at IS NULL
             ORDER BY r.role DESC, lower(u.display_name), r.id)
           UNION ALL
           (SELECT r.id, r.user_id, u.display_name, u.email::text, r.role, r.granted_at, g.display_name,
                   r.revoked_at, v.display_name
              FROM platform_roles r JOIN users u ON u.id = r.user_id LEFT JOIN users g ON g.id = r.granted_by
                   LEFT JOIN users v ON v.id = r.revoked_by
             WHERE r.revoked_at IS NOT NULL
             ORDER BY r.revoked_at DESC, r.id LIMIT 20)"#
    )
    .fetch_all(db)
    .await
}

/// The open account that signs in with `email`, with its name.
pub async fn open_account(
    db: &mut PgConnection,
    email: &str,
) -> Result<Option<(UserId, String)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT id AS "id: UserId", display_name FROM users
            WHERE email = $1 AND disabled_at IS NULL AND deleted_at IS NULL"#,
        email
    )
    .fetch_optional(db)
    .await?
    .map(|r| (r.id, r.display_name)))
}

/// The new grant's id; `None` when the person holds the role already. Refused by the
/// database (42501) unless the caller is a super admin other than `target`.
pub async fn grant(
    db: &mut PgConnection,
    target: UserId,
    role: &str,
    at: DateTime<Utc>,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!("SELECT platform_role_grant($1, $2, $3)", target.as_uuid(), role, at)
        .fetch_one(db)
        .await
}

/// The person holding live grant `id`, with the role.
pub async fn live_grant(
    db: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(UserId, String, String)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT r.user_id AS "user_id: UserId", r.role, u.display_name
             FROM platform_roles r JOIN users u ON u.id = r.user_id
            WHERE r.id = $1 AND r.revoked_at IS NULL"#,
        id
    )
    .fetch_optional(db)
    .await?
    .map(|r| (r.user_id, r.role, r.display_name)))
}

/// Ends live grant `id`: the role it ended, `None` when there was none. Refused by the
/// database (42501) unless the caller is a super admin who does not hold that grant.
pub async fn revoke(
    db: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT platform_role_revoke($1, $2)", id, at).fetch_one(db).await
}
