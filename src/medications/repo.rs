use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::db::ids::{MedicationId, OrganizationId, PatientId, UserId};

pub(crate) struct Medication {
    pub id: MedicationId,
    pub name: String,
    pub dose: Option<String>,
    pub frequency: Option<String>,
    pub started_on: Option<NaiveDate>,
    pub prescriber: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: Option<String>,
    pub stopped_on: Option<NaiveDate>,
    pub stopped_reason: Option<String>,
}

/// The current medications (by name), then the last 20 stopped (latest first).
pub async fn list(db: &mut PgConnection, patient: PatientId) -> Result<Vec<Medication>, sqlx::Error> {
    sqlx::query_as!(
        Medication,
        r#"(SELECT m.id AS "id!: MedicationId", m.name AS "name!", m.dose, m.frequency, m.started_on, m.prescriber,
                   m.recorded_at AS "recorded_at!", u.display_name AS "recorded_by?", m.stopped_on, m.stopped_reason
              FROM medications m LEFT JOIN users u ON u.id = m.recorded_by
             WHERE m.patient_id = $1 AND m.stopped_on IS NULL
             ORDER BY lower(m.name))
           UNION ALL
           (SELECT m.id, m.name, m.dose, m.frequency, m.started_on, m.prescriber, m.recorded_at, u.display_name,
                   m.stopped_on, m.stopped_reason
              FROM medications m LEFT JOIN users u ON u.id = m.recorded_by
             WHERE m.patient_id = $1 AND m.stopped_on IS NOT NULL
             ORDER BY m.stopped_on DESC, m.recorded_at DESC LIMIT 20)"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

pub(crate) struct NewMedication<'a> {
    pub clinic: OrganizationId,
    pub patient: PatientId,
    pub name: &'a str,
    pub dose: Option<&'a str>,
    pub frequency: Option<&'a str>,
    pub started_on: Option<NaiveDate>,
    pub prescriber: Option<&'a str>,
    pub by: Option<UserId>,
}

pub async fn add(db: &mut PgConnection, new: &NewMedication<'_>) -> Result<MedicationId, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO medications (organization_id, patient_id, name, dose, frequency, started_on, prescriber, recorded_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id AS "id: MedicationId""#,
        new.clinic.as_uuid(),
        new.patient.as_uuid(),
        new.name,
        new.dose,
        new.frequency,
        new.started_on,
        new.prescriber,
        new.by.map(|u| u.as_uuid())
    )
    .fetch_one(db)
    .await
}

/// Whether the patient currently takes a medication of this name (case aside).
pub async fn is_current(db: &mut PgConnection, patient: PatientId, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM medications WHERE patient_id = $1 AND stopped_on IS NULL
                            AND lower(name) = lower($2)) AS "exists!""#,
        patient.as_uuid(),
        name
    )
    .fetch_one(db)
    .await
}

/// Stops a current medication on `day`: its name, or `None` when there is no such current
/// medication (or it started after `day`).
pub async fn stop(
    db: &mut PgConnection,
    patient: PatientId,
    medication: MedicationId,
    day: NaiveDate,
    by: Option<UserId>,
    reason: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE medications SET stopped_on = $3, stopped_by = $4, stopped_reason = $5
          WHERE id = $1 AND patient_id = $2 AND stopped_on IS NULL AND (started_on IS NULL OR started_on <= $3)
          RETURNING name",
        medication.as_uuid(),
        patient.as_uuid(),
        day,
        by.map(|u| u.as_uuid()),
        reason
    )
    .fetch_optional(db)
    .await
}

/// Whether `medication` is a current medication of `patient`.
pub async fn is_current_entry(
    db: &mut PgConnection,
    patient: PatientId,
    medication: MedicationId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM medications WHERE id = $1 AND patient_id = $2 AND stopped_on IS NULL) AS "exists!""#,
        medication.as_uuid(),
        patient.as_uuid()
    )
    .fetch_one(db)
    .await
}
