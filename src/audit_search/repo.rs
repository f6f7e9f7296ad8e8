use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::ids::{OrganizationId, UserId};

/// What the search asks for.
pub(crate) struct Filters<'a> {
    pub clinic: Option<OrganizationId>,
    pub mrn: Option<&'a str>,
    pub actor: Option<UserId>,
    pub action: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub break_glass: bool,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The last row of the previous page: (occurred_at, id).
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub page_size: i32,
}

/// One event as the search shows it.
pub(crate) struct Event {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<Uuid>,
    pub acting_for_user_id: Option<Uuid>,
    pub actor_kind: String,
    pub role: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub patient_id: Option<Uuid>,
    pub mrn: Option<String>,
    pub purpose: Option<String>,
    pub outcome: String,
    pub break_glass: bool,
    pub ip: Option<String>,
}

/// A page of events; refused by the database (42501) unless the caller is an auditor.
pub async fn search(db: &mut PgConnection, f: &Filters<'_>) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as!(
        Event,
        r#"SELECT id AS "id!", occurred_at AS "occurred_at!", actor_user_id, acting_for_user_id,
                  actor_kind AS "actor_kind!", role, action AS "action!", resource_type, patient_id, mrn, purpose,
                  outcome AS "outcome!", break_glass AS "break_glass!", ip
             FROM platform_audit_search($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
        f.clinic.map(|c| c.as_uuid()),
        f.mrn,
        f.actor.map(|a| a.as_uuid()),
        f.action,
        f.outcome,
        f.break_glass,
        f.from,
        f.to,
        f.after.map(|(at, _)| at),
        f.after.map(|(_, id)| id),
        f.page_size
    )
    .fetch_all(db)
    .await
}

/// Every clinic, for the choice.
pub async fn clinics(db: &mut PgConnection) -> Result<Vec<(OrganizationId, String)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT id AS "id: OrganizationId", name FROM organizations WHERE deleted_at IS NULL ORDER BY lower(name), id"#
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.id, r.name))
    .collect())
}

/// The person who signs in with `email`.
pub async fn person(db: &mut PgConnection, email: &str) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT id AS "id: UserId" FROM users WHERE email = $1"#, email)
        .fetch_optional(db)
        .await
}

/// People's names and addresses (platform scope).
pub async fn people(db: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT id, display_name || ' <' || email::text || '>' AS "who!" FROM users WHERE id = ANY($1)"#,
        ids
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.id, r.who))
    .collect())
}
