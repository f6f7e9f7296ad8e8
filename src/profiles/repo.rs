//! Profile queries, in the request's tenant transaction (row-level security scopes each
//! to the clinic).

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::domain::ProviderProfile;
use crate::db::errors::{Refused, on_constraint};
use crate::db::ids::{MembershipId, OrganizationId, ProviderId, ProviderLicenseId, UserId};

/// The member a profile page is about.
pub(crate) struct Member {
    pub user_id: UserId,
    pub role: String,
    pub status: String,
    pub name: String,
    pub email: String,
}

pub(crate) async fn member(db: &mut PgConnection, id: MembershipId) -> Result<Option<Member>, sqlx::Error> {
    sqlx::query_as!(
        Member,
        r#"SELECT m.user_id AS "user_id: UserId", m.role, m.status,
                  CASE WHEN m.accepted_at IS NULL THEN coalesce(m.invited_name, u.email::text) ELSE u.display_name END
                      AS "name!",
                  u.email::text AS "email!"
             FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.id = $1"#,
        id.as_uuid()
    )
    .fetch_optional(db)
    .await
}

pub(crate) struct StaffRow {
    pub employee_id: Option<String>,
    pub job_title: Option<String>,
}

pub(crate) async fn staff(db: &mut PgConnection, person: UserId) -> Result<Option<StaffRow>, sqlx::Error> {
    sqlx::query_as!(
        StaffRow,
        "SELECT employee_id, job_title FROM staff WHERE user_id = $1 AND deleted_at IS NULL",
        person.as_uuid()
    )
    .fetch_optional(db)
    .await
}

/// Writes the staff profile; refused when another member has the employee id.
pub(crate) async fn save_staff(
    db: &mut PgConnection,
    clinic: OrganizationId,
    person: UserId,
    employee_id: Option<&str>,
    job_title: Option<&str>,
) -> Result<Result<(), Refused>, sqlx::Error> {
    on_constraint(db, "staff_organization_id_employee_id_key", async |db| {
        sqlx::query!(
            "INSERT INTO staff (organization_id, user_id, employee_id, job_title) VALUES ($1, $2, $3, $4)
             ON CONFLICT (organization_id, user_id)
             DO UPDATE SET employee_id = EXCLUDED.employee_id, job_title = EXCLUDED.job_title, deleted_at = NULL",
            clinic.as_uuid(),
            person.as_uuid(),
            employee_id,
            job_title
        )
        .execute(db)
        .await
        .map(drop)
    })
    .await
}

pub(crate) struct ProviderRow {
    pub id: ProviderId,
    pub npi: String,
    pub dea_number: Option<String>,
    pub credentials: String,
    pub specialty: Option<String>,
}

pub(crate) async fn provider(
    db: &mut PgConnection,
    person: UserId,
) -> Result<Option<ProviderRow>, sqlx::Error> {
    sqlx::query_as!(
        ProviderRow,
        r#"SELECT id AS "id: ProviderId", npi, dea_number, credentials, specialty
             FROM providers WHERE user_id = $1 AND deleted_at IS NULL"#,
        person.as_uuid()
    )
    .fetch_optional(db)
    .await
}

/// Creates or updates the provider profile (a removed one comes back); refused when
/// another provider of the clinic has the NPI.
pub(crate) async fn save_provider(
    db: &mut PgConnection,
    clinic: OrganizationId,
    person: UserId,
    profile: &ProviderProfile,
) -> Result<Result<ProviderId, Refused>, sqlx::Error> {
    on_constraint(db, "providers_organization_id_npi_key", async |db| {
        sqlx::query_scalar!(
            r#"INSERT INTO providers (organization_id, user_id, npi, dea_number, credentials, specialty)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (organization_id, user_id)
               DO UPDATE SET npi = EXCLUDED.npi, dea_number = EXCLUDED.dea_number,
                             credentials = EXCLUDED.credentials, specialty = EXCLUDED.specialty, deleted_at = NULL
               RETURNING id AS "id: ProviderId""#,
            clinic.as_uuid(),
            person.as_uuid(),
            profile.npi,
            profile.dea.as_deref(),
            profile.credentials,
            profile.specialty.as_deref()
        )
        .fetch_one(db)
        .await
    })
    .await
}

pub(crate) struct LicenceRow {
    pub id: ProviderLicenseId,
    pub state: String,
    pub license_number: String,
    pub expires_on: NaiveDate,
}

pub(crate) async fn licences(
    db: &mut PgConnection,
    provider: ProviderId,
) -> Result<Vec<LicenceRow>, sqlx::Error> {
    sqlx::query_as!(
        LicenceRow,
        r#"SELECT id AS "id: ProviderLicenseId", state AS "state!", license_number, expires_on
             FROM provider_licenses WHERE provider_id = $1 AND deleted_at IS NULL ORDER BY expires_on, state"#,
        provider.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// Adds a licence; refused when the provider already holds that state's number (a
/// removed one comes back with the new expiry).
pub(crate) async fn add_licence(
    db: &mut PgConnection,
    clinic: OrganizationId,
    provider: ProviderId,
    (state, number, expires_on): (&str, &str, NaiveDate),
) -> Result<Result<ProviderLicenseId, Refused>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        r#"INSERT INTO provider_licenses (organization_id, provider_id, state, license_number, expires_on)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (organization_id, provider_id, state, license_number)
           DO UPDATE SET expires_on = EXCLUDED.expires_on, deleted_at = NULL
                   WHERE provider_licenses.deleted_at IS NOT NULL
           RETURNING id AS "id: ProviderLicenseId""#,
        clinic.as_uuid(),
        provider.as_uuid(),
        state,
        number,
        expires_on
    )
    .fetch_optional(db)
    .await?;
    Ok(id.ok_or(Refused))
}

/// Removes a licence of this provider (kept, marked removed; row history has it).
pub(crate) async fn remove_licence(
    db: &mut PgConnection,
    provider: ProviderId,
    licence: ProviderLicenseId,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE provider_licenses SET deleted_at = now() WHERE id = $1 AND provider_id = $2 AND deleted_at IS NULL",
        licence.as_uuid(),
        provider.as_uuid()
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}
