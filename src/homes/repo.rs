use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::db::ids::{
    AdminTaskId, AppointmentId, ClinicalNoteId, MembershipId, OrganizationId, PatientId, UserId,
};

pub(crate) struct DayVisit {
    pub id: AppointmentId,
    pub patient_id: PatientId,
    pub patient_name: String,
    pub provider_name: String,
    pub type_name: String,
    pub starts_at: DateTime<Utc>,
    pub status: String,
    pub checked_in_at: Option<DateTime<Utc>>,
}

/// The clinic's visits in [from, to) (one provider's, when `provider_user` is given), by
/// time. Names, times and kinds only: a visit's reason is the schedule's to show.
pub async fn visits(
    db: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    provider_user: Option<UserId>,
) -> Result<Vec<DayVisit>, sqlx::Error> {
    sqlx::query_as!(
        DayVisit,
        r#"SELECT a.id AS "id: AppointmentId", a.patient_id AS "patient_id: PatientId",
                  p.family_name || ', ' || p.given_name AS "patient_name!", u.display_name AS provider_name,
                  t.name AS type_name, a.starts_at, a.status, a.checked_in_at
             FROM appointments a
             JOIN patients p ON p.organization_id = a.organization_id AND p.id = a.patient_id
             JOIN providers pr ON pr.organization_id = a.organization_id AND pr.id = a.provider_id
             JOIN users u ON u.id = pr.user_id
             JOIN appointment_types t ON t.organization_id = a.organization_id AND t.id = a.appointment_type_id
            WHERE a.starts_at >= $1 AND a.starts_at < $2 AND p.deleted_at IS NULL
              AND ($3::uuid IS NULL OR pr.user_id = $3)
            ORDER BY a.starts_at, p.family_name"#,
        from,
        to,
        provider_user.map(|u| u.as_uuid())
    )
    .fetch_all(db)
    .await
}

pub(crate) struct Draft {
    pub id: ClinicalNoteId,
    pub patient_id: PatientId,
    pub patient_name: String,
    pub title: String,
    pub updated_at: DateTime<Utc>,
}

/// This author's unsigned notes, the oldest first (they are the ones to finish).
pub async fn drafts(db: &mut PgConnection, author: UserId) -> Result<Vec<Draft>, sqlx::Error> {
    sqlx::query_as!(
        Draft,
        r#"SELECT n.id AS "id: ClinicalNoteId", n.patient_id AS "patient_id: PatientId",
                  p.family_name || ', ' || p.given_name AS "patient_name!", n.title, n.updated_at
             FROM clinical_notes n JOIN patients p ON p.organization_id = n.organization_id AND p.id = n.patient_id
            WHERE n.author_user_id = $1 AND n.status = 'draft' AND n.deleted_at IS NULL AND p.deleted_at IS NULL
            ORDER BY n.updated_at LIMIT 50"#,
        author.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// Open tasks of the clinic (for the front desk's count).
pub async fn open_tasks(db: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM staff_tasks WHERE done_at IS NULL"#)
        .fetch_one(db)
        .await
}

/// A provider's licence that expires soon (or has), for the administrator's home.
pub(crate) struct ExpiringLicence {
    pub membership_id: MembershipId,
    pub provider_name: String,
    pub state: String,
    pub license_number: String,
    pub expires_on: NaiveDate,
}

/// Licences of the clinic's current providers expiring on or before `by`, soonest first.
pub async fn expiring_licences(
    db: &mut PgConnection,
    by: NaiveDate,
) -> Result<Vec<ExpiringLicence>, sqlx::Error> {
    sqlx::query_as!(
        ExpiringLicence,
        r#"SELECT m.id AS "membership_id: MembershipId", u.display_name AS provider_name, l.state AS "state!",
                  l.license_number, l.expires_on
             FROM provider_licenses l
             JOIN providers pr ON pr.organization_id = l.organization_id AND pr.id = l.provider_id
             JOIN users u ON u.id = pr.user_id
             JOIN memberships m ON m.organization_id = pr.organization_id AND m.user_id = pr.user_id AND m.role = 'provider'
            WHERE l.deleted_at IS NULL AND pr.deleted_at IS NULL AND l.expires_on <= $1
            ORDER BY l.expires_on, u.display_name
            LIMIT 100"#,
        by
    )
    .fetch_all(db)
    .await
}

/// Provider members with no provider profile yet: they cannot be booked.
pub(crate) struct Unbookable {
    pub membership_id: MembershipId,
    pub name: String,
}

pub async fn providers_without_profile(db: &mut PgConnection) -> Result<Vec<Unbookable>, sqlx::Error> {
    sqlx::query_as!(
        Unbookable,
        r#"SELECT m.id AS "membership_id: MembershipId",
                  CASE WHEN m.accepted_at IS NULL THEN coalesce(m.invited_name, u.email::text) ELSE u.display_name END
                      AS "name!"
             FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.role = 'provider' AND m.status IN ('invited', 'active')
              AND NOT EXISTS (SELECT 1 FROM providers pr
                               WHERE pr.organization_id = m.organization_id AND pr.user_id = m.user_id
                                 AND pr.deleted_at IS NULL)
            ORDER BY 2"#
    )
    .fetch_all(db)
    .await
}

/// An open task on the administrators' home: a licence about to run out (or run out).
pub(crate) struct AdminTask {
    pub id: AdminTaskId,
    pub summary: String,
    pub due_on: NaiveDate,
    pub membership_id: Option<MembershipId>,
}

/// Open tasks whose licence is still on record (a licence removed or replaced by its
/// renewal takes its task with it), soonest first.
pub async fn open_admin_tasks(db: &mut PgConnection) -> Result<Vec<AdminTask>, sqlx::Error> {
    sqlx::query_as!(
        AdminTask,
        r#"SELECT t.id AS "id: AdminTaskId", t.summary, t.due_on, m.id AS "membership_id?: MembershipId"
             FROM admin_tasks t
             JOIN provider_licenses l ON l.organization_id = t.organization_id AND l.id = t.provider_license_id
             JOIN providers pr ON pr.organization_id = l.organization_id AND pr.id = l.provider_id
             LEFT JOIN memberships m ON m.organization_id = pr.organization_id AND m.user_id = pr.user_id
                                    AND m.role = 'provider'
            WHERE t.done_at IS NULL AND l.deleted_at IS NULL
            ORDER BY t.due_on, t.created_at, t.id
            LIMIT 100"#
    )
    .fetch_all(db)
    .await
}

/// Marks an open task done: what it said, or nothing when there is no such open task.
pub async fn close_admin_task(
    db: &mut PgConnection,
    id: AdminTaskId,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE admin_tasks SET done_at = $2, done_by = $3 WHERE id = $1 AND done_at IS NULL RETURNING summary",
        id.as_uuid(),
        now,
        user.as_uuid()
    )
    .fetch_optional(db)
    .await
}

/// The clinics whose administrators get tasks (platform context).
pub async fn active_clinics(db: &mut PgConnection) -> Result<Vec<OrganizationId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id: OrganizationId" FROM organizations WHERE status = 'active' AND deleted_at IS NULL"#
    )
    .fetch_all(db)
    .await
}

/// A task for every current provider's licence that runs out within `days` of `now` on
/// the clinic's calendar (or has run out), once per licence and expiry date; returns how
/// many were new. Runs in the clinic's own context.
pub async fn task_expiring_licences(
    db: &mut PgConnection,
    now: DateTime<Utc>,
    days: i32,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        r#"INSERT INTO admin_tasks (organization_id, kind, provider_license_id, due_on, summary)
           SELECT l.organization_id, 'licence_expiring', l.id, l.expires_on,
                  left(u.display_name || ': ' || l.state || ' licence ' || l.license_number
                       || CASE WHEN l.expires_on < ($1::timestamptz AT TIME ZONE o.timezone)::date
                               THEN ' ran out on ' ELSE ' runs out on ' END || l.expires_on::text
                       || '. Record the renewal on their profile.', 300)
             FROM provider_licenses l
             JOIN organizations o ON o.id = l.organization_id
             JOIN providers pr ON pr.organization_id = l.organization_id AND pr.id = l.provider_id
             JOIN users u ON u.id = pr.user_id
            WHERE l.deleted_at IS NULL AND pr.deleted_at IS NULL
              AND l.expires_on <= ($1::timestamptz AT TIME ZONE o.timezone)::date + $2::int
           ON CONFLICT (organization_id, provider_license_id, due_on) DO NOTHING"#,
        now,
        days
    )
    .execute(db)
    .await?
    .rows_affected())
}
