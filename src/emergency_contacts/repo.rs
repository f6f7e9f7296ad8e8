use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{EmergencyContactId, OrganizationId, PatientId, UserId};

pub(crate) struct Contact {
    pub id: EmergencyContactId,
    pub name: String,
    pub relationship: String,
    pub phone: String,
}

/// The current emergency contacts, the first recorded first (the order to call).
pub async fn current(db: &mut PgConnection, patient: PatientId) -> Result<Vec<Contact>, sqlx::Error> {
    sqlx::query_as!(
        Contact,
        r#"SELECT id AS "id: EmergencyContactId", name, relationship, phone
             FROM emergency_contacts WHERE patient_id = $1 AND removed_at IS NULL
            ORDER BY recorded_at, id"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

pub(crate) struct NewContact<'a> {
    pub clinic: OrganizationId,
    pub patient: PatientId,
    pub name: &'a str,
    pub relationship: &'a str,
    pub phone: &'a str,
    pub by: Option<UserId>,
}

/// Adds a contact unless the chart has `most` already; `None` when full.
pub async fn add(
    db: &mut PgConnection,
    new: &NewContact<'_>,
    most: i64,
) -> Result<Option<EmergencyContactId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO emergency_contacts (organization_id, patient_id, name, relationship, phone, recorded_by)
           SELECT $1, $2, $3, $4, $5, $6
            WHERE (SELECT count(*) FROM emergency_contacts WHERE patient_id = $2 AND removed_at IS NULL) < $7
           RETURNING id AS "id: EmergencyContactId""#,
        new.clinic.as_uuid(),
        new.patient.as_uuid(),
        new.name,
        new.relationship,
        new.phone,
        new.by.map(|u| u.as_uuid()),
        most
    )
    .fetch_optional(db)
    .await
}

/// Removes a current contact; its name, or `None` when there is no such contact.
pub async fn remove(
    db: &mut PgConnection,
    patient: PatientId,
    contact: EmergencyContactId,
    at: DateTime<Utc>,
    by: Option<UserId>,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE emergency_contacts SET removed_at = $3, removed_by = $4
          WHERE id = $1 AND patient_id = $2 AND removed_at IS NULL RETURNING name",
        contact.as_uuid(),
        patient.as_uuid(),
        at,
        by.map(|u| u.as_uuid())
    )
    .fetch_optional(db)
    .await
}
