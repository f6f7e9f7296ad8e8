use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{ContactMethodId, OrganizationId, PatientId, UserId};

pub(crate) struct ContactRecord {
    pub id: ContactMethodId,
    pub kind: String,
    pub value: String,
    pub label: Option<String>,
    pub is_primary: bool,
    pub is_safe_for_voicemail: bool,
    pub is_safe_for_sms: bool,
    pub is_safe_for_email: bool,
    /// Designated by the patient for confidential communication.
    pub is_confidential: bool,
    pub verified_at: Option<DateTime<Utc>>,
}

pub async fn list(db: &mut PgConnection, patient: PatientId) -> Result<Vec<ContactRecord>, sqlx::Error> {
    sqlx::query_as!(
        ContactRecord,
        r#"SELECT id AS "id: ContactMethodId", kind, value, label, is_primary, is_safe_for_voicemail,
                  is_safe_for_sms, is_safe_for_email, is_confidential, verified_at
             FROM contact_methods WHERE patient_id = $1 AND deleted_at IS NULL
            ORDER BY kind = 'email', is_primary DESC, created_at"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

pub async fn find(
    db: &mut PgConnection,
    patient: PatientId,
    id: ContactMethodId,
) -> Result<Option<ContactRecord>, sqlx::Error> {
    sqlx::query_as!(
        ContactRecord,
        r#"SELECT id AS "id: ContactMethodId", kind, value, label, is_primary, is_safe_for_voicemail,
                  is_safe_for_sms, is_safe_for_email, is_confidential, verified_at
             FROM contact_methods WHERE id = $1 AND patient_id = $2 AND deleted_at IS NULL"#,
        id.as_uuid(),
        patient.as_uuid()
    )
    .fetch_optional(db)
    .await
}

/// What a save writes. `flags` is `None` when the person may not change safety flags
/// (the stored ones stay as they are).
pub(crate) struct ContactWrite<'a> {
    pub kind: &'a str,
    pub value: &'a str,
    pub label: Option<&'a str>,
    pub is_primary: bool,
    /// (voicemail, texts, e-mail, confidential).
    pub flags: Option<(bool, bool, bool, bool)>,
}

async fn clear_primary(db: &mut PgConnection, patient: PatientId, kind: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE contact_methods SET is_primary = false WHERE patient_id = $1 AND kind = $2 AND is_primary AND deleted_at IS NULL",
        patient.as_uuid(),
        kind
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn insert(
    db: &mut PgConnection,
    organization: OrganizationId,
    patient: PatientId,
    write: &ContactWrite<'_>,
) -> Result<ContactMethodId, sqlx::Error> {
    if write.is_primary {
        clear_primary(db, patient, write.kind).await?;
    }
    let (voicemail, sms, email, confidential) = write.flags.unwrap_or((false, false, false, false));
    let id = ContactMethodId::new();
    sqlx::query!(
        "INSERT INTO contact_methods (organization_id, id, patient_id, kind, value, label, is_primary,
                                      is_safe_for_voicemail, is_safe_for_sms, is_safe_for_email, is_confidential)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        organization.as_uuid(),
        id.as_uuid(),
        patient.as_uuid(),
        write.kind,
        write.value,
        write.label,
        write.is_primary,
        voicemail,
        sms,
        email,
        confidential
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// Updates a contact. A changed value is no longer verified, and no longer safe: unless
/// the person saving may set the flags (and so sets them now), a new number or address
/// starts unknown = unsafe, so a role that may not decide where messages go cannot send
/// a safe contact's messages somewhere else by editing it.
pub async fn update(
    db: &mut PgConnection,
    patient: PatientId,
    id: ContactMethodId,
    write: &ContactWrite<'_>,
) -> Result<(), sqlx::Error> {
    if write.is_primary {
        clear_primary(db, patient, write.kind).await?;
    }
    let flags = write.flags;
    sqlx::query!(
        "UPDATE contact_methods
            SET kind = $3, value = $4, label = $5, is_primary = $6,
                is_safe_for_voicemail = coalesce($7, value = $4 AND is_safe_for_voicemail) AND $3 <> 'email',
                is_safe_for_sms = coalesce($8, value = $4 AND is_safe_for_sms) AND $3 = 'mobile',
                is_safe_for_email = coalesce($9, value = $4 AND is_safe_for_email) AND $3 = 'email',
                is_confidential = coalesce($10, value = $4 AND is_confidential),
                verified_at = CASE WHEN value = $4 THEN verified_at END,
                verified_by = CASE WHEN value = $4 THEN verified_by END
          WHERE id = $1 AND patient_id = $2 AND deleted_at IS NULL",
        id.as_uuid(),
        patient.as_uuid(),
        write.kind,
        write.value,
        write.label,
        write.is_primary,
        flags.map(|f| f.0),
        flags.map(|f| f.1),
        flags.map(|f| f.2),
        flags.map(|f| f.3)
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn verify(
    db: &mut PgConnection,
    patient: PatientId,
    id: ContactMethodId,
    by: Option<UserId>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE contact_methods SET verified_at = $3, verified_by = $4 WHERE id = $1 AND patient_id = $2 AND deleted_at IS NULL",
        id.as_uuid(),
        patient.as_uuid(),
        at,
        by.map(|u| u.as_uuid())
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn remove(
    db: &mut PgConnection,
    patient: PatientId,
    id: ContactMethodId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE contact_methods SET deleted_at = now(), is_primary = false WHERE id = $1 AND patient_id = $2 AND deleted_at IS NULL",
        id.as_uuid(),
        patient.as_uuid()
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Whether the patient already has this value on file (another live contact).
pub(crate) async fn already_on_file(
    db: &mut PgConnection,
    patient: PatientId,
    value: &str,
    except: Option<ContactMethodId>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM contact_methods
                           WHERE patient_id = $1 AND value = $2 AND deleted_at IS NULL
                             AND ($3::uuid IS NULL OR id <> $3)) AS "exists!""#,
        patient.as_uuid(),
        value,
        except.map(|e| e.as_uuid())
    )
    .fetch_one(db)
    .await
}

/// One automated message about the patient, as staff see it.
pub(crate) struct MessageRecord {
    pub created_at: DateTime<Utc>,
    pub template: String,
    pub lead_hours: Option<i32>,
    pub subject_at: Option<DateTime<Utc>>,
    pub status: String,
    pub channel: Option<String>,
    pub via_proxy: bool,
    pub block_reason: Option<String>,
}

/// The patient's most recent automated messages: sent, blocked (with the reason) or waiting.
pub(crate) async fn recent_messages(
    db: &mut PgConnection,
    patient: PatientId,
) -> Result<Vec<MessageRecord>, sqlx::Error> {
    sqlx::query_as!(
        MessageRecord,
        r#"SELECT created_at, template, lead_hours, subject_at, status, channel,
                  (recipient_user_id IS NOT NULL) AS "via_proxy!", block_reason
             FROM notifications WHERE patient_id = $1
            ORDER BY created_at DESC, id DESC LIMIT 10"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// The preferred channel per purpose (only purposes with a preference).
pub async fn preferences(
    db: &mut PgConnection,
    patient: PatientId,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT purpose, channel AS "channel!" FROM contact_preferences WHERE patient_id = $1 AND channel IS NOT NULL"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.purpose, r.channel)).collect())
}

/// Records (or clears, with `None`) the preferred channel for `purpose`.
pub(crate) async fn set_preference(
    db: &mut PgConnection,
    organization: OrganizationId,
    patient: PatientId,
    purpose: &str,
    channel: Option<&str>,
    by: Option<UserId>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO contact_preferences (organization_id, patient_id, purpose, channel, updated_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (organization_id, patient_id, purpose)
         DO UPDATE SET channel = EXCLUDED.channel, updated_by = EXCLUDED.updated_by, updated_at = now()",
        organization.as_uuid(),
        patient.as_uuid(),
        purpose,
        channel,
        by.map(|u| u.as_uuid())
    )
    .execute(db)
    .await?;
    Ok(())
}
