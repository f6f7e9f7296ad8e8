use chrono::NaiveTime;
use sqlx::PgConnection;

use crate::db::ids::OrganizationId;

/// The clinic's settings as stored.
pub(crate) struct StoredSettings {
    pub name: String,
    pub timezone: String,
    pub chart_access: Option<String>,
    pub proxy_clinical_grants: Option<String>,
    pub idle: Option<String>,
    pub break_glass_minutes: Option<String>,
    pub patient_mfa: bool,
    pub reminder_lead_hours: Vec<i32>,
    pub contact_window_start: NaiveTime,
    pub contact_window_end: NaiveTime,
    pub callback_phone: Option<String>,
}

pub async fn load(db: &mut PgConnection, clinic: OrganizationId) -> Result<StoredSettings, sqlx::Error> {
    sqlx::query_as!(
        StoredSettings,
        r#"SELECT name, timezone, settings ->> 'chart_access' AS chart_access,
                  settings ->> 'proxy_clinical_grants' AS proxy_clinical_grants,
                  settings ->> 'session_idle_minutes' AS idle,
                  settings ->> 'break_glass_minutes' AS break_glass_minutes,
                  coalesce((settings ->> 'require_patient_mfa')::boolean, false) AS "patient_mfa!",
                  reminder_lead_hours, contact_window_start, contact_window_end, callback_phone
             FROM organizations WHERE id = $1"#,
        clinic.as_uuid()
    )
    .fetch_one(db)
    .await
}

/// The access settings as saved.
pub(crate) struct Access<'a> {
    pub timezone: &'a str,
    pub chart_access: &'a str,
    pub proxy_clinical_grants: &'a str,
    pub patient_mfa: bool,
    /// None: the standard idle limits.
    pub idle_minutes: Option<i32>,
    /// None: emergency access lasts the longest allowed (60 minutes).
    pub break_glass_minutes: Option<i32>,
}

/// The access settings: timezone, who reads charts, the idle timeout, whether patients
/// need a second factor and how long an emergency access lasts.
pub async fn save_access(
    db: &mut PgConnection,
    clinic: OrganizationId,
    access: &Access<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE organizations
              SET timezone = $2,
                  settings = (settings - 'session_idle_minutes' - 'break_glass_minutes')
                             || jsonb_build_object('chart_access', $3::text, 'require_patient_mfa', $4::boolean,
                                                   'proxy_clinical_grants', $6::text)
                             || CASE WHEN $5::int IS NULL THEN '{}'::jsonb
                                     ELSE jsonb_build_object('session_idle_minutes', $5::int) END
                             || CASE WHEN $7::int IS NULL THEN '{}'::jsonb
                                     ELSE jsonb_build_object('break_glass_minutes', $7::int) END
            WHERE id = $1"#,
        clinic.as_uuid(),
        access.timezone,
        access.chart_access,
        access.patient_mfa,
        access.idle_minutes,
        access.proxy_clinical_grants,
        access.break_glass_minutes
    )
    .execute(db)
    .await?;
    Ok(())
}

/// When and how reminders go out: the lead hours, the hours of the day messages may go,
/// and the number patients are asked to call back.
pub async fn save_messaging(
    db: &mut PgConnection,
    clinic: OrganizationId,
    leads: &[i32],
    window: (NaiveTime, NaiveTime),
    callback: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE organizations SET reminder_lead_hours = $2, contact_window_start = $3, contact_window_end = $4,
                callback_phone = $5 WHERE id = $1",
        clinic.as_uuid(),
        leads,
        window.0,
        window.1,
        callback
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The parts of the product the clinic switched off, as stored.
pub async fn disabled_modules(
    db: &mut PgConnection,
    clinic: OrganizationId,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT disabled_modules FROM organizations WHERE id = $1", clinic.as_uuid())
        .fetch_one(db)
        .await
}

pub async fn save_disabled_modules(
    db: &mut PgConnection,
    clinic: OrganizationId,
    disabled: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE organizations SET disabled_modules = $2 WHERE id = $1", clinic.as_uuid(), disabled)
        .execute(db)
        .await?;
    Ok(())
}
