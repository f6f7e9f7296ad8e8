use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{ConsentDocumentId, PatientId, UserId};
use crate::db::tenant::RequestMeta;

/// The clinic's text-message terms in force (the transaction names the clinic).
pub struct Terms {
    pub id: ConsentDocumentId,
    pub title: String,
    pub version: String,
    pub body: String,
}

pub async fn current_terms(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<Option<Terms>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id AS "id: ConsentDocumentId", title, version, body FROM consent_documents
            WHERE kind = 'sms' AND organization_id IS NOT NULL AND effective_at <= $1
            ORDER BY effective_at DESC LIMIT 1"#,
        now
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Terms { id: r.id, title: r.title, version: r.version, body: r.body }))
}

/// A consent in force: who gave it, to which version, when.
pub struct SmsConsent {
    pub version: String,
    pub accepted_at: DateTime<Utc>,
}

/// The consent `user` gave for texts about `patient`, if it stands.
pub async fn status(
    conn: &mut PgConnection,
    user: UserId,
    patient: PatientId,
) -> Result<Option<SmsConsent>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT d.version, c.accepted_at FROM consents c JOIN consent_documents d ON d.id = c.document_id
            WHERE c.user_id = $1 AND c.patient_id = $2 AND d.kind = 'sms' AND c.withdrawn_at IS NULL
            ORDER BY c.accepted_at DESC LIMIT 1"#,
        user.as_uuid(),
        patient.as_uuid()
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| SmsConsent { version: r.version, accepted_at: r.accepted_at }))
}

/// Records agreement to `terms` for texts about `patient` (time, address, user agent).
pub async fn agree(
    conn: &mut PgConnection,
    user: UserId,
    patient: PatientId,
    terms: ConsentDocumentId,
    request: &RequestMeta,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO consents (organization_id, user_id, document_id, patient_id, accepted_at, ip, user_agent)
           SELECT d.organization_id, $1, d.id, $3, $4, $5::text::inet, $6 FROM consent_documents d WHERE d.id = $2"#,
        user.as_uuid(),
        terms.as_uuid(),
        patient.as_uuid(),
        now,
        request.ip.map(|ip| ip.to_string()),
        request.user_agent.as_deref()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Withdraws every standing text-message consent `user` gave for `patient`.
pub async fn withdraw(
    conn: &mut PgConnection,
    user: UserId,
    patient: PatientId,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        r#"UPDATE consents c SET withdrawn_at = $3 FROM consent_documents d
            WHERE d.id = c.document_id AND d.kind = 'sms'
              AND c.user_id = $1 AND c.patient_id = $2 AND c.withdrawn_at IS NULL"#,
        user.as_uuid(),
        patient.as_uuid(),
        now
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// "Given Family" of a patient, for a proxy's page about them.
pub async fn patient_name(
    conn: &mut PgConnection,
    patient: PatientId,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query!("SELECT given_name, family_name FROM patients WHERE id = $1", patient.as_uuid())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|p| format!("{} {}", p.given_name, p.family_name)))
}
