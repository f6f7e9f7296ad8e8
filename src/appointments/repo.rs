use chrono::{DateTime, NaiveTime, Utc};
use sqlx::PgConnection;

use super::domain::Hours;
use crate::db::errors::{Refused, on_constraint};
use crate::db::ids::{
    AppointmentId, AppointmentTypeId, OrganizationId, PatientId, ProviderId, UserId, WorkingHoursId,
};

pub(crate) struct ProviderOption {
    pub id: ProviderId,
    pub name: String,
    pub credentials: String,
}

pub async fn providers(db: &mut PgConnection) -> Result<Vec<ProviderOption>, sqlx::Error> {
    sqlx::query_as!(
        ProviderOption,
        r#"SELECT pr.id AS "id: ProviderId", u.display_name AS name, pr.credentials
             FROM providers pr JOIN users u ON u.id = pr.user_id
            WHERE pr.deleted_at IS NULL ORDER BY u.display_name"#
    )
    .fetch_all(db)
    .await
}

pub(crate) struct TypeOption {
    pub sensitive: bool,
    pub id: AppointmentTypeId,
    pub name: String,
    pub duration_minutes: i32,
    pub is_active: bool,
}

pub(crate) async fn types(db: &mut PgConnection) -> Result<Vec<TypeOption>, sqlx::Error> {
    sqlx::query_as!(
        TypeOption,
        r#"SELECT id AS "id: AppointmentTypeId", name, duration_minutes, is_active, sensitive
             FROM appointment_types ORDER BY is_active DESC, name"#
    )
    .fetch_all(db)
    .await
}

pub async fn hours(db: &mut PgConnection, provider: ProviderId) -> Result<Vec<Hours>, sqlx::Error> {
    Ok(sqlx::query!(
        "SELECT weekday, starts, ends FROM provider_working_hours WHERE provider_id = $1 ORDER BY weekday, starts",
        provider.as_uuid()
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|h| Hours { weekday: h.weekday, starts: h.starts, ends: h.ends })
    .collect())
}

pub(crate) struct HoursRow {
    pub id: WorkingHoursId,
    pub provider_id: ProviderId,
    pub weekday: i16,
    pub starts: NaiveTime,
    pub ends: NaiveTime,
}

pub(crate) async fn all_hours(db: &mut PgConnection) -> Result<Vec<HoursRow>, sqlx::Error> {
    sqlx::query_as!(
        HoursRow,
        r#"SELECT id AS "id: WorkingHoursId", provider_id AS "provider_id: ProviderId", weekday, starts, ends
             FROM provider_working_hours ORDER BY weekday, starts"#
    )
    .fetch_all(db)
    .await
}

/// One appointment as the schedule shows it.
#[derive(Debug, Clone)]
pub(crate) struct AppointmentRow {
    pub id: AppointmentId,
    pub patient_id: PatientId,
    pub patient_name: String,
    pub provider_id: ProviderId,
    pub provider_name: String,
    pub type_name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: String,
    pub reason: Option<String>,
    /// A sensitive visit (marked so, or of a sensitive type).
    pub sensitive: bool,
    /// The person looking is a provider on this patient's care team (who may read a
    /// sensitive visit's reason).
    pub on_care_team: bool,
}

/// Appointments overlapping [from, to), optionally for one provider or one patient.
pub async fn between(
    db: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    provider: Option<ProviderId>,
    patient: Option<PatientId>,
    viewer: Option<UserId>,
) -> Result<Vec<AppointmentRow>, sqlx::Error> {
    sqlx::query_as!(
        AppointmentRow,
        r#"SELECT a.id AS "id: AppointmentId", a.patient_id AS "patient_id: PatientId",
                  p.family_name || ', ' || p.given_name AS "patient_name!",
                  a.provider_id AS "provider_id: ProviderId", u.display_name AS provider_name,
                  t.name AS type_name, a.starts_at, a.ends_at, a.status, a.reason,
                  (a.sensitive OR t.sensitive) AS "sensitive!",
                  EXISTS (SELECT 1 FROM care_team_members c
                            JOIN providers cp ON cp.organization_id = c.organization_id AND cp.id = c.provider_id
                           WHERE c.organization_id = a.organization_id AND c.patient_id = a.patient_id
                             AND c.removed_at IS NULL AND cp.user_id = $5) AS "on_care_team!"
             FROM appointments a
             JOIN patients p ON p.organization_id = a.organization_id AND p.id = a.patient_id
             JOIN appointment_types t ON t.organization_id = a.organization_id AND t.id = a.appointment_type_id
             JOIN providers pr ON pr.organization_id = a.organization_id AND pr.id = a.provider_id
             JOIN users u ON u.id = pr.user_id
            WHERE a.starts_at < $2 AND a.ends_at > $1
              -- Implied by the 8-hour limit on a visit's length (a table constraint), and
              -- what lets the index on start time read one day, not the clinic's history.
              AND a.starts_at > $1 - interval '8 hours'
              AND ($3::uuid IS NULL OR a.provider_id = $3)
              AND ($4::uuid IS NULL OR a.patient_id = $4)
            ORDER BY a.starts_at, u.display_name"#,
        from,
        to,
        provider.map(|p| p.as_uuid()),
        patient.map(|p| p.as_uuid()),
        viewer.map(|u| u.as_uuid())
    )
    .fetch_all(db)
    .await
}

/// A patient's appointments, latest first.
pub(crate) async fn for_patient(
    db: &mut PgConnection,
    patient: PatientId,
    viewer: Option<UserId>,
) -> Result<Vec<AppointmentRow>, sqlx::Error> {
    sqlx::query_as!(
        AppointmentRow,
        r#"SELECT a.id AS "id: AppointmentId", a.patient_id AS "patient_id: PatientId",
                  p.family_name || ', ' || p.given_name AS "patient_name!",
                  a.provider_id AS "provider_id: ProviderId", u.display_name AS provider_name,
                  t.name AS type_name, a.starts_at, a.ends_at, a.status, a.reason,
                  (a.sensitive OR t.sensitive) AS "sensitive!",
                  EXISTS (SELECT 1 FROM care_team_members c
                            JOIN providers cp ON cp.organization_id = c.organization_id AND cp.id = c.provider_id
                           WHERE c.organization_id = a.organization_id AND c.patient_id = a.patient_id
                             AND c.removed_at IS NULL AND cp.user_id = $2) AS "on_care_team!"
             FROM appointments a
             JOIN patients p ON p.organization_id = a.organization_id AND p.id = a.patient_id
             JOIN appointment_types t ON t.organization_id = a.organization_id AND t.id = a.appointment_type_id
             JOIN providers pr ON pr.organization_id = a.organization_id AND pr.id = a.provider_id
             JOIN users u ON u.id = pr.user_id
            WHERE a.patient_id = $1
            ORDER BY a.starts_at DESC
            LIMIT 50"#,
        patient.as_uuid(),
        viewer.map(|u| u.as_uuid())
    )
    .fetch_all(db)
    .await
}

pub async fn find(
    db: &mut PgConnection,
    id: AppointmentId,
    viewer: Option<UserId>,
) -> Result<Option<AppointmentRow>, sqlx::Error> {
    sqlx::query_as!(
        AppointmentRow,
        r#"SELECT a.id AS "id: AppointmentId", a.patient_id AS "patient_id: PatientId",
                  p.family_name || ', ' || p.given_name AS "patient_name!",
                  a.provider_id AS "provider_id: ProviderId", u.display_name AS provider_name,
                  t.name AS type_name, a.starts_at, a.ends_at, a.status, a.reason,
                  (a.sensitive OR t.sensitive) AS "sensitive!",
                  EXISTS (SELECT 1 FROM care_team_members c
                            JOIN providers cp ON cp.organization_id = c.organization_id AND cp.id = c.provider_id
                           WHERE c.organization_id = a.organization_id AND c.patient_id = a.patient_id
                             AND c.removed_at IS NULL AND cp.user_id = $2) AS "on_care_team!"
             FROM appointments a
             JOIN patients p ON p.organization_id = a.organization_id AND p.id = a.patient_id
             JOIN appointment_types t ON t.organization_id = a.organization_id AND t.id = a.appointment_type_id
             JOIN providers pr ON pr.organization_id = a.organization_id AND pr.id = a.provider_id
             JOIN users u ON u.id = pr.user_id
            WHERE a.id = $1"#,
        id.as_uuid(),
        viewer.map(|u| u.as_uuid())
    )
    .fetch_optional(db)
    .await
}

/// The booking to write.
pub(crate) struct NewAppointment<'a> {
    pub patient: PatientId,
    pub provider: ProviderId,
    pub appointment_type: AppointmentTypeId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: Option<&'a str>,
    pub booked_by: Option<UserId>,
    pub sensitive: bool,
}

/// The exclusion constraint that refuses a double booking.
const NO_DOUBLE_BOOKING: &str = "appointments_no_double_booking";

/// Inserts a booking; a double booking (refused by the database) comes back as
/// `Err(Refused)` with the request's transaction still usable (to re-render the form and
/// audit).
pub async fn insert(
    db: &mut PgConnection,
    organization: OrganizationId,
    new: &NewAppointment<'_>,
) -> Result<Result<AppointmentId, Refused>, sqlx::Error> {
    let id = AppointmentId::new();
    on_constraint(db, NO_DOUBLE_BOOKING, async |db| {
        sqlx::query!(
            "INSERT INTO appointments (organization_id, id, patient_id, provider_id, appointment_type_id, starts_at, ends_at, reason, booked_by, sensitive)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            organization.as_uuid(),
            id.as_uuid(),
            new.patient.as_uuid(),
            new.provider.as_uuid(),
            new.appointment_type.as_uuid(),
            new.starts_at,
            new.ends_at,
            new.reason,
            new.booked_by.map(|u| u.as_uuid()),
            new.sensitive
        )
        .execute(db)
        .await
        .map(|_| id)
    })
    .await
}

/// Moves an appointment (a double booking refused as in [`insert`]).
pub async fn reschedule(
    db: &mut PgConnection,
    id: AppointmentId,
    provider: ProviderId,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<Result<(), Refused>, sqlx::Error> {
    on_constraint(db, NO_DOUBLE_BOOKING, async |db| {
        sqlx::query!(
            "UPDATE appointments SET provider_id = $2, starts_at = $3, ends_at = $4
              WHERE id = $1 AND status = 'booked'",
            id.as_uuid(),
            provider.as_uuid(),
            starts_at,
            ends_at
        )
        .execute(db)
        .await
        .map(|_| ())
    })
    .await
}

/// A status change, allowed only from the listed states; `false` when it was not in one.
pub(crate) async fn set_status(
    db: &mut PgConnection,
    id: AppointmentId,
    to: &str,
    from: &[&str],
    by: Option<UserId>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE appointments
            SET status = $2::text,
                checked_in_at = CASE WHEN $2 = 'checked_in' THEN $5::timestamptz
                                     WHEN $2 = 'booked' THEN NULL ELSE checked_in_at END,
                cancelled_at = CASE WHEN $2 = 'cancelled' THEN $5::timestamptz END,
                cancelled_by = CASE WHEN $2 = 'cancelled' THEN $4::uuid END,
                cancel_reason = CASE WHEN $2 = 'cancelled' THEN $6::text END
          WHERE id = $1 AND status = ANY($3)",
        id.as_uuid(),
        to,
        from as &[&str],
        by.map(|u| u.as_uuid()),
        now,
        reason
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The kind of visit an appointment was booked as.
pub(crate) async fn type_of(
    db: &mut PgConnection,
    id: AppointmentId,
) -> Result<AppointmentTypeId, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT appointment_type_id AS "id: AppointmentTypeId" FROM appointments WHERE id = $1"#,
        id.as_uuid()
    )
    .fetch_one(db)
    .await
}

/// Adds a provider's working hours for a weekday: Ok(false) when the provider is not at
/// the clinic, Err(Refused) when they overlap hours already set for that day.
pub(crate) async fn add_hours(
    db: &mut PgConnection,
    organization: OrganizationId,
    provider: ProviderId,
    weekday: i16,
    (starts, ends): (NaiveTime, NaiveTime),
) -> Result<Result<bool, Refused>, sqlx::Error> {
    on_constraint(db, "provider_working_hours_organization_id_provider_id_weekday_excl", async |db| {
        sqlx::query!(
            "INSERT INTO provider_working_hours (organization_id, provider_id, weekday, starts, ends)
             SELECT $1, id, $3, $4, $5 FROM providers WHERE id = $2 AND deleted_at IS NULL",
            organization.as_uuid(),
            provider.as_uuid(),
            weekday,
            starts,
            ends
        )
        .execute(db)
        .await
        .map(|done| done.rows_affected() == 1)
    })
    .await
}

/// Whether there were such hours to remove.
pub(crate) async fn remove_hours(db: &mut PgConnection, id: WorkingHoursId) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query!("DELETE FROM provider_working_hours WHERE id = $1", id.as_uuid())
        .execute(db)
        .await?
        .rows_affected();
    Ok(removed > 0)
}

/// A new kind of appointment: false when the clinic has one of that name.
pub(crate) async fn add_type(
    db: &mut PgConnection,
    organization: OrganizationId,
    name: &str,
    minutes: i32,
    sensitive: bool,
) -> Result<bool, sqlx::Error> {
    let added = sqlx::query!(
        "INSERT INTO appointment_types (organization_id, name, duration_minutes, sensitive) VALUES ($1, $2, $3, $4)
         ON CONFLICT (organization_id, name) DO NOTHING",
        organization.as_uuid(),
        name,
        minutes,
        sensitive
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(added == 1)
}

/// Offers a kind of appointment for booking, or stops offering it: whether it exists.
pub(crate) async fn toggle_type(db: &mut PgConnection, id: AppointmentTypeId) -> Result<bool, sqlx::Error> {
    let changed =
        sqlx::query!("UPDATE appointment_types SET is_active = NOT is_active WHERE id = $1", id.as_uuid())
            .execute(db)
            .await?
            .rows_affected();
    Ok(changed > 0)
}

/// When this clinic's providers are busy between two instants, here (unless
/// `elsewhere_than` names this clinic) and at any other clinic where the same person
/// sees patients: the times only (another clinic's patients and visits are theirs).
#[derive(Debug, Clone)]
pub(crate) struct BusyTime {
    pub provider_id: ProviderId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

pub(crate) async fn busy_times(
    db: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    provider: Option<ProviderId>,
    elsewhere_than: Option<OrganizationId>,
) -> Result<Vec<BusyTime>, sqlx::Error> {
    sqlx::query_as!(
        BusyTime,
        r#"SELECT pr.id AS "provider_id: ProviderId", b.starts_at, b.ends_at
             FROM providers pr
             JOIN provider_busy_times b ON b.user_id = pr.user_id
            WHERE pr.deleted_at IS NULL AND ($3::uuid IS NULL OR pr.id = $3)
              AND ($4::uuid IS NULL OR b.organization_id <> $4)
              AND b.starts_at < $2 AND b.ends_at > $1
              -- Implied by the table's eight-hour limit; what keeps this an index range.
              AND b.starts_at > $1 - interval '8 hours'
            ORDER BY b.starts_at"#,
        from,
        to,
        provider.map(|p| p.as_uuid()),
        elsewhere_than.map(|o| o.as_uuid())
    )
    .fetch_all(db)
    .await
}
