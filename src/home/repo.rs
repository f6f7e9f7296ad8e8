use sqlx::PgConnection;

use crate::db::ids::PatientId;

pub(crate) struct PatientName {
    pub given_name: String,
    pub family_name: String,
}

/// The name of a patient still on the registry.
pub async fn patient_name(
    db: &mut PgConnection,
    patient: PatientId,
) -> Result<Option<PatientName>, sqlx::Error> {
    sqlx::query_as!(
        PatientName,
        "SELECT given_name, family_name FROM patients WHERE id = $1 AND deleted_at IS NULL",
        patient.as_uuid()
    )
    .fetch_optional(db)
    .await
}
