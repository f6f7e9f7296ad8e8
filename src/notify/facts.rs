//! Reads what the gate needs, in the clinic's transaction, at send time.

use std::collections::HashMap;

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use sqlx::PgConnection;

use super::gate::{
    Channel, Contact, ContactKind, ContactWindow, PatientFacts, ProxyScopes, Purpose, Recipient,
};
use crate::db::ids::{ContactMethodId, PatientId, UserId};

/// The clinic's messaging settings.
#[derive(Debug, Clone)]
pub struct ClinicMessaging {
    pub timezone: Tz,
    pub window: ContactWindow,
    pub callback_phone: Option<String>,
    pub reminder_lead_hours: Vec<i32>,
}

pub async fn clinic(conn: &mut PgConnection) -> Result<Option<ClinicMessaging>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT timezone, contact_window_start, contact_window_end, callback_phone, reminder_lead_hours
             FROM organizations WHERE id = nullif(current_setting('app.organization_id', true), '')::uuid"#
    )
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    // Quiet hours are kept in this zone: a zone this build does not know stops the work
    // (it is retried) rather than guess one and call someone at night.
    let timezone: Tz =
        r.timezone.parse().map_err(|_| sqlx::Error::Decode("unknown clinic timezone".into()))?;
    Ok(Some(ClinicMessaging {
        timezone,
        window: ContactWindow { start: r.contact_window_start, end: r.contact_window_end },
        callback_phone: r.callback_phone,
        reminder_lead_hours: r.reminder_lead_hours,
    }))
}

/// The patient's side of the gate's facts, or `None` when this clinic has no such
/// (undeleted) patient.
pub async fn patient(
    conn: &mut PgConnection,
    patient: PatientId,
    purpose: Purpose,
    clinic_zone: Tz,
    now: DateTime<Utc>,
) -> Result<Option<PatientFacts>, sqlx::Error> {
    let Some(row) = sqlx::query!(
        r#"SELECT p.user_id, p.is_self_managed, p.confidential_communication, p.timezone,
                  (SELECT channel FROM contact_preferences cp
                    WHERE cp.patient_id = p.id AND cp.purpose = $2) AS preferred
             FROM patients p WHERE p.id = $1 AND p.deleted_at IS NULL"#,
        patient.as_uuid(),
        purpose.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };

    // Text consents standing for this patient, by the person who gave them.
    let consents: Vec<uuid::Uuid> = sqlx::query_scalar!(
        r#"SELECT DISTINCT c.user_id FROM consents c JOIN consent_documents d ON d.id = c.document_id
            WHERE c.patient_id = $1 AND d.kind = 'sms' AND c.withdrawn_at IS NULL"#,
        patient.as_uuid()
    )
    .fetch_all(&mut *conn)
    .await?;

    let proxies = sqlx::query!(
        r#"SELECT a.proxy_user_id, a.can_view_clinical, a.can_view_billing, a.can_schedule, a.can_message,
                  u.email::text AS "email!", u.email_verified_at, u.updated_at AS user_updated_at,
                  (a.messages_safe_email IS NOT NULL AND a.messages_safe_email = u.email) AS "confirmed!"
             FROM patient_proxy_assignments a JOIN users u ON u.id = a.proxy_user_id
            WHERE a.patient_id = $1 AND a.status = 'active' AND a.starts_at <= $2
              AND (a.expires_at IS NULL OR a.expires_at > $2)
            ORDER BY a.created_at"#,
        patient.as_uuid(),
        now
    )
    .fetch_all(&mut *conn)
    .await?;

    // A proxy's address carries the patient's messages only once someone allowed to set
    // contact safety confirmed it (for the address they sign in with now).
    let (proxies, unconfirmed): (Vec<_>, Vec<_>) = proxies.into_iter().partition(|p| p.confirmed);
    // Contacts on the patient's chart and on the proxies' own charts in this clinic.
    let proxy_users: Vec<uuid::Uuid> = proxies.iter().map(|p| p.proxy_user_id).collect();
    let contacts = sqlx::query!(
        r#"SELECT c.id AS "id: ContactMethodId", c.kind, c.value, c.is_primary, c.is_safe_for_sms,
                  c.is_safe_for_voicemail, c.is_safe_for_email, c.is_confidential, c.updated_at,
                  owner.user_id AS owner_user,
                  (c.patient_id = $1) AS "own!",
                  EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.phone = c.value AND o.opted_out) AS "opted_out!"
             FROM contact_methods c JOIN patients owner ON owner.id = c.patient_id
            WHERE c.deleted_at IS NULL AND owner.deleted_at IS NULL
              AND (c.patient_id = $1 OR owner.user_id = ANY($2))
            ORDER BY c.created_at, c.id"#,
        patient.as_uuid(),
        &proxy_users
    )
    .fetch_all(&mut *conn)
    .await?;

    let mut own = Vec::new();
    let mut by_proxy: HashMap<uuid::Uuid, Vec<Contact>> = HashMap::new();
    for c in contacts {
        let Some(kind) = ContactKind::parse(&c.kind) else { continue };
        let contact = Contact {
            id: c.id,
            kind,
            value: c.value,
            is_primary: c.is_primary,
            safe_for_sms: c.is_safe_for_sms,
            safe_for_voicemail: c.is_safe_for_voicemail,
            safe_for_email: c.is_safe_for_email,
            opted_out: c.opted_out,
            confidential: c.is_confidential,
            version: c.updated_at,
        };
        if c.own {
            own.push(contact);
        } else if let Some(user) = c.owner_user {
            by_proxy.entry(user).or_default().push(contact);
        }
    }

    // The patient's own consent. A dependent's chart numbers may also be covered by a
    // proxy's consent; the gate decides that per message (see `gate::decide`).
    let patient_consent = row.user_id.is_some_and(|user| consents.contains(&user));
    let proxies = proxies
        .into_iter()
        .map(|p| {
            let mut contacts = by_proxy.remove(&p.proxy_user_id).unwrap_or_default();
            // A proxy's verified sign-in address is theirs: safe for e-mail.
            if p.email_verified_at.is_some()
                && !contacts.iter().any(|c| c.value.eq_ignore_ascii_case(&p.email))
            {
                contacts.push(Contact {
                    id: ContactMethodId::from_uuid(uuid::Uuid::nil()),
                    kind: ContactKind::Email,
                    value: p.email.clone(),
                    is_primary: false,
                    safe_for_sms: false,
                    safe_for_voicemail: false,
                    safe_for_email: true,
                    opted_out: false,
                    confidential: false,
                    version: p.user_updated_at,
                });
            }
            (
                ProxyScopes {
                    clinical: p.can_view_clinical,
                    billing: p.can_view_billing,
                    scheduling: p.can_schedule,
                    messaging: p.can_message,
                },
                Recipient {
                    proxy: Some(UserId::from_uuid(p.proxy_user_id)),
                    contacts,
                    sms_consent: consents.contains(&p.proxy_user_id),
                },
            )
        })
        .collect();

    Ok(Some(PatientFacts {
        self_managed: row.is_self_managed,
        confidential_communication: row.confidential_communication,
        timezone: row.timezone.and_then(|z| z.parse().ok()).unwrap_or(clinic_zone),
        own: Recipient { proxy: None, contacts: own, sms_consent: patient_consent },
        proxies,
        unconfirmed_proxies: unconfirmed.len(),
        preferred: row.preferred.as_deref().and_then(Channel::parse),
    }))
}

/// Parses `HH:MM` for the clinic settings form.
pub(crate) fn parse_clock_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}
