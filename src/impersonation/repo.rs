use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::ids::{MembershipId, OrganizationId, UserId};

/// A member of the scoped clinic as this page shows them.
pub(crate) struct Member {
    pub membership_id: MembershipId,
    pub user_id: UserId,
    pub name: String,
    pub role: String,
    pub active: bool,
}

/// The clinic's accepted members (active or not), by name.
pub async fn members(db: &mut PgConnection) -> Result<Vec<Member>, sqlx::Error> {
    sqlx::query_as!(
        Member,
        r#"SELECT m.id AS "membership_id: MembershipId", m.user_id AS "user_id: UserId", u.display_name AS name,
                  m.role, (m.status = 'active' AND u.disabled_at IS NULL AND u.deleted_at IS NULL) AS "active!"
             FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.accepted_at IS NOT NULL
            ORDER BY lower(u.display_name), m.role"#
    )
    .fetch_all(db)
    .await
}

/// One membership of the scoped clinic.
pub async fn member(db: &mut PgConnection, id: MembershipId) -> Result<Option<Member>, sqlx::Error> {
    sqlx::query_as!(
        Member,
        r#"SELECT m.id AS "membership_id: MembershipId", m.user_id AS "user_id: UserId", u.display_name AS name,
                  m.role,
                  (m.status = 'active' AND m.accepted_at IS NOT NULL AND u.disabled_at IS NULL AND u.deleted_at IS NULL)
                      AS "active!"
             FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.id = $1"#,
        id.as_uuid()
    )
    .fetch_optional(db)
    .await
}

pub async fn start(
    db: &mut PgConnection,
    clinic: OrganizationId,
    administrator: UserId,
    target: &Member,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO impersonations (organization_id, user_id, target_user_id, target_role, reason, started_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"#,
        clinic.as_uuid(),
        administrator.as_uuid(),
        target.user_id.as_uuid(),
        target.role,
        reason,
        at
    )
    .fetch_one(db)
    .await
}

/// Ends impersonation `id` of `administrator`; false when it had ended already.
pub async fn end(
    db: &mut PgConnection,
    id: Uuid,
    administrator: UserId,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE impersonations SET ended_at = $3 WHERE id = $1 AND user_id = $2 AND ended_at IS NULL",
        id,
        administrator.as_uuid(),
        at
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// One impersonation, for the clinic's list.
pub(crate) struct Record {
    pub administrator: String,
    pub target: String,
    pub target_role: String,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// The scoped clinic's 50 most recent impersonations.
pub async fn recent(db: &mut PgConnection) -> Result<Vec<Record>, sqlx::Error> {
    sqlx::query_as!(
        Record,
        r#"SELECT a.display_name AS administrator, t.display_name AS target, i.target_role, i.reason,
                  i.started_at, i.ended_at
             FROM impersonations i JOIN users a ON a.id = i.user_id JOIN users t ON t.id = i.target_user_id
            ORDER BY i.started_at DESC, i.id DESC LIMIT 50"#
    )
    .fetch_all(db)
    .await
}
