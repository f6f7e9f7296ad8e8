use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{CareTeamMemberId, OrganizationId, PatientId, ProviderId, UserId};

pub(crate) struct Member {
    pub id: CareTeamMemberId,
    pub role: String,
    pub added_at: DateTime<Utc>,
    pub display_name: String,
    pub credentials: String,
    pub specialty: Option<String>,
}

pub(crate) struct AvailableProvider {
    pub id: ProviderId,
    pub display_name: String,
    pub credentials: String,
}

/// A current member, as a removal needs them.
pub(crate) struct CurrentMember {
    pub role: String,
    pub user_id: UserId,
    pub display_name: String,
}

/// The current team, the primary first.
pub async fn members(db: &mut PgConnection, patient: PatientId) -> Result<Vec<Member>, sqlx::Error> {
    sqlx::query_as!(
        Member,
        r#"SELECT c.id AS "id: CareTeamMemberId", c.role, c.added_at, u.display_name, pr.credentials, pr.specialty
             FROM care_team_members c
             JOIN providers pr ON pr.organization_id = c.organization_id AND pr.id = c.provider_id
             JOIN users u ON u.id = pr.user_id
            WHERE c.patient_id = $1 AND c.removed_at IS NULL
            ORDER BY c.role = 'primary' DESC, c.role, u.display_name"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// The clinic's providers not on the team yet.
pub async fn available(
    db: &mut PgConnection,
    patient: PatientId,
) -> Result<Vec<AvailableProvider>, sqlx::Error> {
    sqlx::query_as!(
        AvailableProvider,
        r#"SELECT pr.id AS "id: ProviderId", u.display_name, pr.credentials
             FROM providers pr JOIN users u ON u.id = pr.user_id
            WHERE pr.deleted_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM care_team_members c
                               WHERE c.patient_id = $1 AND c.provider_id = pr.id AND c.removed_at IS NULL)
            ORDER BY u.display_name"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

pub async fn provider_name(
    db: &mut PgConnection,
    provider: ProviderId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT u.display_name FROM providers pr JOIN users u ON u.id = pr.user_id WHERE pr.id = $1",
        provider.as_uuid()
    )
    .fetch_optional(db)
    .await
}

pub async fn user_name(db: &mut PgConnection, user: Option<UserId>) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT display_name FROM users WHERE id = $1", user.map(|u| u.as_uuid()))
        .fetch_optional(db)
        .await
}

/// The accounts of the providers on the team now.
pub async fn team_accounts(db: &mut PgConnection, patient: PatientId) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT pr.user_id AS "user_id: UserId"
             FROM care_team_members c
             JOIN providers pr ON pr.organization_id = c.organization_id AND pr.id = c.provider_id
            WHERE c.patient_id = $1 AND c.removed_at IS NULL"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// The account of a provider still at the clinic.
pub async fn provider_account(
    db: &mut PgConnection,
    provider: ProviderId,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT user_id AS "user_id: crate::db::ids::UserId" FROM providers WHERE id = $1 AND deleted_at IS NULL"#,
        provider.as_uuid()
    )
    .fetch_optional(db)
    .await
}

pub async fn has_primary(db: &mut PgConnection, patient: PatientId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM care_team_members WHERE patient_id = $1 AND role = 'primary' AND removed_at IS NULL) AS "taken!""#,
        patient.as_uuid()
    )
    .fetch_one(db)
    .await
}

pub(crate) struct NewMember<'a> {
    pub clinic: OrganizationId,
    pub patient: PatientId,
    pub provider: ProviderId,
    pub role: &'a str,
    pub added_by: Option<UserId>,
    pub reason: &'a str,
}

pub async fn add(db: &mut PgConnection, member: &NewMember<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO care_team_members (organization_id, patient_id, provider_id, role, added_by, added_reason)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING",
        member.clinic.as_uuid(),
        member.patient.as_uuid(),
        member.provider.as_uuid(),
        member.role,
        member.added_by.map(|u| u.as_uuid()),
        member.reason
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn current_member(
    db: &mut PgConnection,
    member: CareTeamMemberId,
    patient: PatientId,
) -> Result<Option<CurrentMember>, sqlx::Error> {
    sqlx::query_as!(
        CurrentMember,
        r#"SELECT c.role, pr.user_id AS "user_id: UserId", u.display_name
             FROM care_team_members c
             JOIN providers pr ON pr.organization_id = c.organization_id AND pr.id = c.provider_id
             JOIN users u ON u.id = pr.user_id
            WHERE c.id = $1 AND c.patient_id = $2 AND c.removed_at IS NULL"#,
        member.as_uuid(),
        patient.as_uuid()
    )
    .fetch_optional(db)
    .await
}

pub async fn remove(
    db: &mut PgConnection,
    member: CareTeamMemberId,
    patient: PatientId,
    at: DateTime<Utc>,
    by: Option<UserId>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE care_team_members SET removed_at = $3, removed_by = $4, removed_reason = $5
          WHERE id = $1 AND patient_id = $2 AND removed_at IS NULL",
        member.as_uuid(),
        patient.as_uuid(),
        at,
        by.map(|u| u.as_uuid()),
        reason
    )
    .execute(db)
    .await?;
    Ok(())
}
