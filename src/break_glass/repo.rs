use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::ids::{OrganizationId, PatientId, UserId};

/// Every active clinic, for the super admin's choice (platform scope).
pub async fn active_clinics(db: &mut PgConnection) -> Result<Vec<(OrganizationId, String)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT id AS "id: OrganizationId", name FROM organizations
            WHERE status = 'active' AND deleted_at IS NULL ORDER BY lower(name), id"#
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.id, r.name))
    .collect())
}

/// The patient with this record number, in the clinic the transaction is scoped to.
pub async fn patient_by_mrn(db: &mut PgConnection, mrn: &str) -> Result<Option<PatientId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id: PatientId" FROM patients WHERE mrn = $1 AND deleted_at IS NULL"#,
        mrn
    )
    .fetch_optional(db)
    .await
}

/// The record number of a patient of the clinic the transaction is scoped to.
pub async fn mrn(db: &mut PgConnection, patient: PatientId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT mrn FROM patients WHERE id = $1 AND deleted_at IS NULL", patient.as_uuid())
        .fetch_optional(db)
        .await
}

/// The clinic's name and its chosen break-glass length in minutes, if it chose one.
pub async fn clinic(
    db: &mut PgConnection,
    clinic: OrganizationId,
) -> Result<(String, Option<i64>), sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT name, (settings ->> 'break_glass_minutes')::bigint AS minutes FROM organizations WHERE id = $1"#,
        clinic.as_uuid()
    )
    .fetch_one(db)
    .await?;
    Ok((row.name, row.minutes))
}

/// A new grant.
pub(crate) struct NewGrant<'a> {
    pub organization_id: OrganizationId,
    pub patient_id: PatientId,
    pub user_id: UserId,
    pub via: &'a str,
    pub role: &'a str,
    pub purpose: &'a str,
    pub reason: &'a str,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Records a grant, ending the person's live one of the same kind first (one emergency
/// access at a time).
pub async fn start(db: &mut PgConnection, grant: &NewGrant<'_>) -> Result<Uuid, sqlx::Error> {
    end_live(db, grant.user_id, grant.via, grant.started_at).await?;
    sqlx::query_scalar!(
        r#"INSERT INTO break_glass_grants
               (organization_id, patient_id, user_id, via, role, purpose, reason, started_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"#,
        grant.organization_id.as_uuid(),
        grant.patient_id.as_uuid(),
        grant.user_id.as_uuid(),
        grant.via,
        grant.role,
        grant.purpose,
        grant.reason,
        grant.started_at,
        grant.expires_at
    )
    .fetch_one(db)
    .await
}

/// Ends the person's live grant of this kind in the scoped clinic: its id and patient.
pub async fn end_live(
    db: &mut PgConnection,
    user: UserId,
    via: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Uuid, PatientId)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"UPDATE break_glass_grants SET ended_at = $3
            WHERE user_id = $1 AND via = $2 AND ended_at IS NULL AND expires_at > $3
           RETURNING id, patient_id AS "patient_id: PatientId""#,
        user.as_uuid(),
        via,
        now
    )
    .fetch_optional(db)
    .await?
    .map(|r| (r.id, r.patient_id)))
}

/// Who is told of a break-glass in the scoped clinic: its privacy officers, or its
/// administrators where it named none (active members only).
pub async fn recipients(db: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH active AS (
               SELECT m.is_privacy_officer, m.role, u.email::text AS email
                 FROM memberships m JOIN users u ON u.id = m.user_id
                WHERE m.status = 'active' AND u.disabled_at IS NULL AND u.deleted_at IS NULL)
           SELECT DISTINCT email AS "email!" FROM active
            WHERE is_privacy_officer
               OR (role = 'org_admin' AND NOT EXISTS (SELECT 1 FROM active WHERE is_privacy_officer))
            ORDER BY 1"#
    )
    .fetch_all(db)
    .await
}

/// One grant, as the clinic's log and the review queue show it.
pub(crate) struct Grant {
    pub organization_id: OrganizationId,
    pub id: Uuid,
    pub clinic: String,
    pub patient_id: PatientId,
    pub mrn: String,
    pub user_id: UserId,
    pub via: String,
    pub role: String,
    pub purpose: String,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Events recorded under it (reads of the record).
    pub reads: i64,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub finding: Option<String>,
    pub review_note: Option<String>,
}

/// The scoped clinic's grants, newest first (the last 200).
pub async fn clinic_grants(db: &mut PgConnection) -> Result<Vec<Grant>, sqlx::Error> {
    sqlx::query_as!(
        Grant,
        r#"SELECT g.organization_id AS "organization_id: OrganizationId", g.id, o.name AS clinic,
                  g.patient_id AS "patient_id: PatientId", p.mrn, g.user_id AS "user_id: UserId", g.via, g.role,
                  g.purpose, g.reason, g.started_at, g.expires_at, g.ended_at,
                  (SELECT count(*) FROM audit_events e
                    WHERE e.organization_id = g.organization_id AND e.break_glass AND e.actor_user_id = g.user_id
                      AND e.patient_id = g.patient_id
                      AND e.occurred_at >= g.started_at AND e.occurred_at <= g.expires_at) AS "reads!",
                  g.reviewed_at, g.finding, g.review_note
             FROM break_glass_grants g
             JOIN organizations o ON o.id = g.organization_id
             JOIN patients p ON p.organization_id = g.organization_id AND p.id = g.patient_id
            ORDER BY g.started_at DESC, g.id DESC LIMIT 200"#
    )
    .fetch_all(db)
    .await
}

/// Every clinic's grants (awaiting review only, unless `include_reviewed`); refused by
/// the database (42501) unless the caller is a platform auditor.
pub async fn queue(db: &mut PgConnection, include_reviewed: bool) -> Result<Vec<Grant>, sqlx::Error> {
    sqlx::query_as!(
        Grant,
        r#"SELECT organization_id AS "organization_id!: OrganizationId", id AS "id!", clinic AS "clinic!",
                  patient_id AS "patient_id!: PatientId", mrn AS "mrn!", user_id AS "user_id!: UserId",
                  via AS "via!", role AS "role!", purpose AS "purpose!", reason AS "reason!",
                  started_at AS "started_at!", expires_at AS "expires_at!", ended_at, reads AS "reads!",
                  reviewed_at, finding, review_note
             FROM platform_break_glass_queue($1)
            ORDER BY reviewed_at IS NOT NULL, started_at DESC, id DESC"#,
        include_reviewed
    )
    .fetch_all(db)
    .await
}

/// People's names, for the log and the queue (platform or clinic scope).
pub async fn names(db: &mut PgConnection, users: &[Uuid]) -> Result<Vec<(UserId, String)>, sqlx::Error> {
    Ok(sqlx::query!(r#"SELECT id AS "id: UserId", display_name FROM users WHERE id = ANY($1)"#, users)
        .fetch_all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r.display_name))
        .collect())
}

/// Closes one grant's review; false when it is not awaiting one, not over yet, or the
/// auditor's own. Refused by the database (42501) unless the caller is a platform auditor.
pub async fn review(
    db: &mut PgConnection,
    clinic: OrganizationId,
    grant: Uuid,
    finding: &str,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT platform_break_glass_review($1, $2, $3, $4, $5) AS "done!""#,
        clinic.as_uuid(),
        grant,
        finding,
        note,
        at
    )
    .fetch_one(db)
    .await
}
