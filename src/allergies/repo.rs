use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{AllergyId, OrganizationId, PatientId, UserId};

pub(crate) struct Allergy {
    pub id: AllergyId,
    pub substance: String,
    pub reaction: Option<String>,
    pub severity: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: Option<String>,
}

pub(crate) struct Ended {
    pub substance: String,
    pub ended_at: DateTime<Utc>,
    pub ended_reason: Option<String>,
}

/// The current allergies, the most severe first.
pub async fn current(db: &mut PgConnection, patient: PatientId) -> Result<Vec<Allergy>, sqlx::Error> {
    sqlx::query_as!(
        Allergy,
        r#"SELECT a.id AS "id: AllergyId", a.substance, a.reaction, a.severity, a.recorded_at,
                  u.display_name AS "recorded_by?"
             FROM allergies a LEFT JOIN users u ON u.id = a.recorded_by
            WHERE a.patient_id = $1 AND a.ended_at IS NULL
            ORDER BY array_position(ARRAY['severe', 'moderate', 'mild', 'unknown'], a.severity), lower(a.substance)"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// Allergies that ended, the latest first (the last 20).
pub async fn ended(db: &mut PgConnection, patient: PatientId) -> Result<Vec<Ended>, sqlx::Error> {
    sqlx::query_as!(
        Ended,
        r#"SELECT substance, ended_at AS "ended_at!", ended_reason
             FROM allergies WHERE patient_id = $1 AND ended_at IS NOT NULL
            ORDER BY ended_at DESC LIMIT 20"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// When and by whom "no known allergies" was stated, if it stands.
pub async fn none_known(
    db: &mut PgConnection,
    patient: PatientId,
) -> Result<Option<(DateTime<Utc>, Option<String>)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT p.no_known_allergies_at AS "at?", u.display_name AS "by?"
             FROM patients p LEFT JOIN users u ON u.id = p.no_known_allergies_by
            WHERE p.id = $1"#,
        patient.as_uuid()
    )
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|r| r.at.map(|at| (at, r.by))))
}

pub(crate) struct NewAllergy<'a> {
    pub clinic: OrganizationId,
    pub patient: PatientId,
    pub substance: &'a str,
    pub reaction: Option<&'a str>,
    pub severity: &'a str,
    pub by: Option<UserId>,
}

/// Records an allergy, and withdraws a "no known allergies" statement (it is no longer
/// true). Whether one like it is already current is the caller's to ask first.
pub async fn add(db: &mut PgConnection, new: &NewAllergy<'_>) -> Result<AllergyId, sqlx::Error> {
    let id = sqlx::query_scalar!(
        r#"INSERT INTO allergies (organization_id, patient_id, substance, reaction, severity, recorded_by)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id AS "id: AllergyId""#,
        new.clinic.as_uuid(),
        new.patient.as_uuid(),
        new.substance,
        new.reaction,
        new.severity,
        new.by.map(|u| u.as_uuid())
    )
    .fetch_one(&mut *db)
    .await?;
    sqlx::query!(
        "UPDATE patients SET no_known_allergies_at = NULL, no_known_allergies_by = NULL
          WHERE id = $1 AND no_known_allergies_at IS NOT NULL",
        new.patient.as_uuid()
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// Whether the patient has a current allergy to `substance` (case and spacing aside).
pub async fn has_current(
    db: &mut PgConnection,
    patient: PatientId,
    substance: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM allergies WHERE patient_id = $1 AND ended_at IS NULL
                            AND lower(btrim(substance)) = lower(btrim($2))) AS "exists!""#,
        patient.as_uuid(),
        substance
    )
    .fetch_one(db)
    .await
}

/// Ends a current allergy of `patient`; `false` when there is no such current allergy.
pub async fn end(
    db: &mut PgConnection,
    patient: PatientId,
    allergy: AllergyId,
    at: DateTime<Utc>,
    by: Option<UserId>,
    reason: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE allergies SET ended_at = $3, ended_by = $4, ended_reason = $5
          WHERE id = $1 AND patient_id = $2 AND ended_at IS NULL
          RETURNING substance",
        allergy.as_uuid(),
        patient.as_uuid(),
        at,
        by.map(|u| u.as_uuid()),
        reason
    )
    .fetch_optional(db)
    .await
}

/// States "no known allergies"; refused (`false`) while an allergy is current.
pub async fn state_none_known(
    db: &mut PgConnection,
    patient: PatientId,
    at: DateTime<Utc>,
    by: Option<UserId>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        "UPDATE patients SET no_known_allergies_at = $2, no_known_allergies_by = $3
          WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM allergies a WHERE a.patient_id = $1 AND a.ended_at IS NULL)",
        patient.as_uuid(),
        at,
        by.map(|u| u.as_uuid())
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Whether `allergy` is a current allergy of `patient`.
pub async fn is_current(
    db: &mut PgConnection,
    patient: PatientId,
    allergy: AllergyId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM allergies WHERE id = $1 AND patient_id = $2 AND ended_at IS NULL) AS "exists!""#,
        allergy.as_uuid(),
        patient.as_uuid()
    )
    .fetch_one(db)
    .await
}
