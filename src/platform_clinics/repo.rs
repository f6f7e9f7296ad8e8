use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::auth::policy::StaffRole;
use crate::db::ids::{OrganizationId, UserId};

/// One clinic as the console lists it.
pub(crate) struct Clinic {
    pub id: OrganizationId,
    pub name: String,
    pub status: String,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub suspended_reason: Option<String>,
}

/// A clinic's counts (see `platform_clinic_usage` in the migrations).
pub(crate) struct Usage {
    pub organization_id: OrganizationId,
    pub members: i64,
    pub patients: i64,
    pub last_activity: Option<DateTime<Utc>>,
}

pub async fn clinics(db: &mut PgConnection) -> Result<Vec<Clinic>, sqlx::Error> {
    sqlx::query_as!(
        Clinic,
        r#"SELECT id AS "id: OrganizationId", name, status, timezone, created_at, suspended_at, suspended_reason
             FROM organizations WHERE deleted_at IS NULL ORDER BY lower(name), id"#
    )
    .fetch_all(db)
    .await
}

/// Every clinic's counts; refused by the database unless the caller is a super admin.
pub async fn usage(db: &mut PgConnection) -> Result<Vec<Usage>, sqlx::Error> {
    sqlx::query_as!(
        Usage,
        r#"SELECT organization_id AS "organization_id!: OrganizationId", members AS "members!",
                  patients AS "patients!", last_activity
             FROM platform_clinic_usage()"#
    )
    .fetch_all(db)
    .await
}

pub async fn create(
    db: &mut PgConnection,
    name: &str,
    timezone: &str,
) -> Result<OrganizationId, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO organizations (name, timezone) VALUES ($1, $2) RETURNING id AS "id: OrganizationId""#,
        name,
        timezone
    )
    .fetch_one(db)
    .await
}

/// Whether a clinic of that name exists (names need not be unique, but a second one by
/// mistake is worth a question).
pub async fn name_taken(db: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM organizations WHERE lower(name) = lower($1) AND deleted_at IS NULL) AS "taken!""#,
        name
    )
    .fetch_one(db)
    .await
}

/// The first administrator's invitation (inside the new clinic's scope).
pub async fn invite_admin(
    db: &mut PgConnection,
    clinic: OrganizationId,
    person: UserId,
    invited_by: UserId,
    invited_name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO memberships (organization_id, user_id, role, status, invited_by, invited_name, accepted_at)
         VALUES ($1, $2, $3, 'invited', $4, $5, NULL)",
        clinic.as_uuid(),
        person.as_uuid(),
        StaffRole::OrgAdmin.as_str(),
        invited_by.as_uuid(),
        invited_name
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Suspends an active clinic; its name, or `None` when it is not active.
pub async fn suspend(
    db: &mut PgConnection,
    clinic: OrganizationId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE organizations SET status = 'suspended', suspended_at = $2, suspended_reason = $3
          WHERE id = $1 AND status = 'active' AND deleted_at IS NULL RETURNING name",
        clinic.as_uuid(),
        now,
        reason
    )
    .fetch_optional(db)
    .await
}

/// Restores a suspended clinic: its name and the reason it was suspended for, or `None`
/// when it is not suspended.
pub async fn restore(
    db: &mut PgConnection,
    clinic: OrganizationId,
) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"UPDATE organizations o SET status = 'active', suspended_at = NULL, suspended_reason = NULL
             FROM organizations before
            WHERE o.id = $1 AND before.id = o.id AND o.status = 'suspended'
           RETURNING o.name, before.suspended_reason"#,
        clinic.as_uuid()
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.name, r.suspended_reason)))
}
