use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::domain::Vitals;
use crate::db::ids::{OrganizationId, PatientId, UserId, VitalsId};

pub(crate) struct Reading {
    pub id: VitalsId,
    pub measured_at: DateTime<Utc>,
    pub systolic: Option<i16>,
    pub diastolic: Option<i16>,
    pub pulse: Option<i16>,
    pub respiratory_rate: Option<i16>,
    pub temperature_dc: Option<i16>,
    pub spo2: Option<i16>,
    pub weight_g: Option<i32>,
    pub height_mm: Option<i16>,
    pub recorded_by: Option<String>,
}

/// The latest 30 sets (not entered in error), the latest first.
pub async fn latest(db: &mut PgConnection, patient: PatientId) -> Result<Vec<Reading>, sqlx::Error> {
    sqlx::query_as!(
        Reading,
        r#"SELECT v.id AS "id: VitalsId", v.measured_at, v.systolic, v.diastolic, v.pulse, v.respiratory_rate,
                  v.temperature_dc, v.spo2, v.weight_g, v.height_mm, u.display_name AS "recorded_by?"
             FROM vitals v LEFT JOIN users u ON u.id = v.recorded_by
            WHERE v.patient_id = $1 AND v.ended_at IS NULL
            ORDER BY v.measured_at DESC, v.recorded_at DESC LIMIT 30"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// The latest height on record (for the body-mass index of a set without one).
pub async fn last_height(db: &mut PgConnection, patient: PatientId) -> Result<Option<i16>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT height_mm FROM vitals WHERE patient_id = $1 AND ended_at IS NULL AND height_mm IS NOT NULL
          ORDER BY measured_at DESC LIMIT 1",
        patient.as_uuid()
    )
    .fetch_optional(db)
    .await
    .map(Option::flatten)
}

pub async fn add(
    db: &mut PgConnection,
    clinic: OrganizationId,
    patient: PatientId,
    measured_at: DateTime<Utc>,
    v: &Vitals,
    by: Option<UserId>,
) -> Result<VitalsId, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO vitals (organization_id, patient_id, measured_at, systolic, diastolic, pulse, respiratory_rate,
                               temperature_dc, spo2, weight_g, height_mm, recorded_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id AS "id: VitalsId""#,
        clinic.as_uuid(),
        patient.as_uuid(),
        measured_at,
        v.systolic,
        v.diastolic,
        v.pulse,
        v.respiratory_rate,
        v.temperature_dc,
        v.spo2,
        v.weight_g,
        v.height_mm,
        by.map(|u| u.as_uuid())
    )
    .fetch_one(db)
    .await
}

/// Ends a set as entered in error; `false` when there is no such current set.
pub async fn end(
    db: &mut PgConnection,
    patient: PatientId,
    vitals: VitalsId,
    at: DateTime<Utc>,
    by: Option<UserId>,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let ended = sqlx::query!(
        "UPDATE vitals SET ended_at = $3, ended_by = $4, ended_reason = $5
          WHERE id = $1 AND patient_id = $2 AND ended_at IS NULL",
        vitals.as_uuid(),
        patient.as_uuid(),
        at,
        by.map(|u| u.as_uuid()),
        reason
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(ended == 1)
}
