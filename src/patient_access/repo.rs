use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{OrganizationId, PatientId, ProxyAssignmentId, UserId};

pub(crate) struct Grant {
    pub id: ProxyAssignmentId,
    pub display_name: String,
    pub email: String,
    pub relationship: String,
    pub status: String,
    pub can_view_clinical: bool,
    pub can_view_billing: bool,
    pub can_schedule: bool,
    pub can_message: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub proof_note: Option<String>,
    /// Someone allowed to set contact safety confirmed the proxy's current address.
    pub messages_safe: bool,
}

/// The scopes that carry messages, and whether the address was confirmed safe for them.
pub(crate) struct MessageScopes {
    pub can_view_clinical: bool,
    pub can_view_billing: bool,
    pub can_schedule: bool,
    pub can_message: bool,
    pub confirmed: bool,
}

/// The portal account's address, when the chart has one.
pub async fn portal_email(db: &mut PgConnection, patient: PatientId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT u.email::text AS "email!" FROM patients p JOIN users u ON u.id = p.user_id WHERE p.id = $1"#,
        patient.as_uuid()
    )
    .fetch_optional(db)
    .await
}

pub async fn has_portal_account(db: &mut PgConnection, patient: PatientId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT user_id IS NOT NULL AS "linked!" FROM patients WHERE id = $1"#,
        patient.as_uuid()
    )
    .fetch_one(db)
    .await
}

/// Every grant of the patient, revoked ones included, oldest first.
pub async fn grants(db: &mut PgConnection, patient: PatientId) -> Result<Vec<Grant>, sqlx::Error> {
    sqlx::query_as!(
        Grant,
        r#"SELECT a.id AS "id: ProxyAssignmentId",
                  CASE WHEN a.accepted_at IS NULL THEN coalesce(a.invited_name, u.email::text) ELSE u.display_name END
                      AS "display_name!",
                  u.email::text AS "email!", a.relationship, a.status,
                  a.can_view_clinical, a.can_view_billing, a.can_schedule, a.can_message, a.expires_at, a.proof_note,
                  (a.messages_safe_email IS NOT NULL AND a.messages_safe_email = u.email) AS "messages_safe!"
             FROM patient_proxy_assignments a JOIN users u ON u.id = a.proxy_user_id
            WHERE a.patient_id = $1 ORDER BY a.created_at"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// What a new grant holds.
pub(crate) struct NewGrant<'a> {
    pub clinic: OrganizationId,
    pub patient: PatientId,
    pub proxy: UserId,
    pub relationship: &'a str,
    pub clinical: bool,
    pub billing: bool,
    pub scheduling: bool,
    pub messaging: bool,
    pub starts_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub granted_by: Option<UserId>,
    pub proof_note: Option<&'a str>,
    pub invited_name: &'a str,
    /// Confirmed safe for the patient's messages, at `email`, by `granted_by`.
    pub messages_safe: bool,
    pub email: &'a str,
}

/// A pending grant; None when the person has one (or an invitation) for this patient.
pub async fn create_grant(
    db: &mut PgConnection,
    grant: &NewGrant<'_>,
) -> Result<Option<ProxyAssignmentId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO patient_proxy_assignments
               (organization_id, patient_id, proxy_user_id, relationship, can_view_clinical, can_view_billing,
                can_schedule, can_message, starts_at, expires_at, status, granted_by, proof_note, invited_name,
                accepted_at, messages_safe_at, messages_safe_by, messages_safe_email)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, $13, NULL,
                   CASE WHEN $14 THEN $9::timestamptz END, CASE WHEN $14 THEN $11::uuid END,
                   CASE WHEN $14 THEN $15::citext END)
           ON CONFLICT DO NOTHING
           RETURNING id AS "id: ProxyAssignmentId""#,
        grant.clinic.as_uuid(),
        grant.patient.as_uuid(),
        grant.proxy.as_uuid(),
        grant.relationship,
        grant.clinical,
        grant.billing,
        grant.scheduling,
        grant.messaging,
        grant.starts_at,
        grant.expires_at,
        grant.granted_by.map(|u| u.as_uuid()),
        grant.proof_note,
        grant.invited_name,
        grant.messages_safe,
        grant.email
    )
    .fetch_optional(db)
    .await
}

/// Revokes a grant not revoked yet: false when there was none.
pub async fn revoke(
    db: &mut PgConnection,
    assignment: ProxyAssignmentId,
    patient: PatientId,
    by: Option<UserId>,
) -> Result<bool, sqlx::Error> {
    let revoked = sqlx::query!(
        "UPDATE patient_proxy_assignments SET status = 'revoked', revoked_at = now(), revoked_by = $3
          WHERE id = $1 AND patient_id = $2 AND status <> 'revoked'",
        assignment.as_uuid(),
        patient.as_uuid(),
        by.map(|u| u.as_uuid())
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(revoked > 0)
}

pub async fn message_scopes(
    db: &mut PgConnection,
    assignment: ProxyAssignmentId,
    patient: PatientId,
) -> Result<Option<MessageScopes>, sqlx::Error> {
    sqlx::query_as!(
        MessageScopes,
        r#"SELECT can_view_clinical, can_view_billing, can_schedule, can_message,
                  messages_safe_email IS NOT NULL AS "confirmed!"
             FROM patient_proxy_assignments
            WHERE id = $1 AND patient_id = $2 AND status <> 'revoked'"#,
        assignment.as_uuid(),
        patient.as_uuid()
    )
    .fetch_optional(db)
    .await
}

/// A grant's changed terms.
pub(crate) struct GrantChange<'a> {
    pub relationship: &'a str,
    pub clinical: bool,
    pub billing: bool,
    pub scheduling: bool,
    pub messaging: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub proof_note: Option<&'a str>,
    /// Whether the person changing it may confirm the address safe for messages; when
    /// not, the confirmation stays as it was.
    pub may_set_safety: bool,
    pub messages_safe: bool,
    pub at: DateTime<Utc>,
    pub by: Option<UserId>,
}

/// Changes a grant not revoked: false when there was none.
pub async fn change(
    db: &mut PgConnection,
    assignment: ProxyAssignmentId,
    patient: PatientId,
    change: &GrantChange<'_>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        "UPDATE patient_proxy_assignments a
            SET relationship = $3, can_view_clinical = $4, can_view_billing = $5, can_schedule = $6,
                can_message = $7, expires_at = $8, proof_note = $9,
                -- The confirmation changes only by someone who may give it ($10), and a
                -- confirmation already given for the same address keeps its time.
                (messages_safe_at, messages_safe_by, messages_safe_email) =
                    (SELECT CASE WHEN NOT $10 THEN a.messages_safe_at
                                 WHEN NOT $11 THEN NULL
                                 WHEN a.messages_safe_email = u.email THEN a.messages_safe_at
                                 ELSE $12 END,
                            CASE WHEN NOT $10 THEN a.messages_safe_by
                                 WHEN NOT $11 THEN NULL
                                 WHEN a.messages_safe_email = u.email THEN a.messages_safe_by
                                 ELSE $13 END,
                            CASE WHEN NOT $10 THEN a.messages_safe_email
                                 WHEN NOT $11 THEN NULL
                                 ELSE u.email END
                       FROM users u WHERE u.id = a.proxy_user_id)
          WHERE id = $1 AND patient_id = $2 AND status <> 'revoked'",
        assignment.as_uuid(),
        patient.as_uuid(),
        change.relationship,
        change.clinical,
        change.billing,
        change.scheduling,
        change.messaging,
        change.expires_at,
        change.proof_note,
        change.may_set_safety,
        change.messages_safe,
        change.at,
        change.by.map(|u| u.as_uuid())
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// Whether the clinic lets only providers give a proxy access to clinical records (its
/// setting; otherwise everyone who manages proxies may).
pub async fn clinical_grants_by_providers_only(db: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(settings ->> 'proxy_clinical_grants' = 'providers', false) AS "only!"
             FROM organizations WHERE id = nullif(current_setting('app.organization_id', true), '')::uuid"#
    )
    .fetch_optional(db)
    .await
    .map(|only| only.unwrap_or(false))
}
