use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::domain::Address;
use crate::db::ids::{ClinicLocationId, OrganizationId};

/// The clinic's profile as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Profile {
    pub name: String,
    pub tax_id: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub phone: Option<String>,
    pub timezone: String,
}

pub async fn profile(db: &mut PgConnection, clinic: OrganizationId) -> Result<Profile, sqlx::Error> {
    sqlx::query_as!(
        Profile,
        r#"SELECT name, tax_id, address_line1, address_line2, city, region::text AS region, postal_code, phone,
                  timezone
             FROM organizations WHERE id = $1"#,
        clinic.as_uuid()
    )
    .fetch_one(db)
    .await
}

/// Saves the profile; the stored profile afterwards.
pub async fn save_profile(
    db: &mut PgConnection,
    clinic: OrganizationId,
    name: &str,
    tax_id: Option<&str>,
    address: Option<&Address>,
    phone: Option<&str>,
) -> Result<Profile, sqlx::Error> {
    sqlx::query_as!(
        Profile,
        r#"UPDATE organizations
              SET name = $2, tax_id = $3, address_line1 = $4, address_line2 = $5, city = $6, region = $7,
                  postal_code = $8, phone = $9
            WHERE id = $1
           RETURNING name, tax_id, address_line1, address_line2, city, region::text AS region, postal_code, phone,
                     timezone"#,
        clinic.as_uuid(),
        name,
        tax_id,
        address.map(|a| a.line1.as_str()),
        address.and_then(|a| a.line2.as_deref()),
        address.map(|a| a.city.as_str()),
        address.map(|a| a.state.as_str()),
        address.map(|a| a.postal_code.as_str()),
        phone
    )
    .fetch_one(db)
    .await
}

pub(crate) struct Location {
    pub id: ClinicLocationId,
    pub name: String,
    pub address_line1: String,
    pub address_line2: Option<String>,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub phone: Option<String>,
}

/// The locations in use, by name.
pub async fn open_locations(db: &mut PgConnection) -> Result<Vec<Location>, sqlx::Error> {
    sqlx::query_as!(
        Location,
        r#"SELECT id AS "id: ClinicLocationId", name, address_line1, address_line2, city, region::text AS "region!",
                  postal_code, phone
             FROM clinic_locations WHERE closed_at IS NULL ORDER BY lower(name)"#
    )
    .fetch_all(db)
    .await
}

/// Adds a location; None when one in use has that name already.
pub async fn add_location(
    db: &mut PgConnection,
    clinic: OrganizationId,
    name: &str,
    address: &Address,
    phone: Option<&str>,
) -> Result<Option<ClinicLocationId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO clinic_locations (organization_id, name, address_line1, address_line2, city, region,
                                         postal_code, phone)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (organization_id, lower(name)) WHERE closed_at IS NULL DO NOTHING
           RETURNING id AS "id: ClinicLocationId""#,
        clinic.as_uuid(),
        name,
        address.line1,
        address.line2,
        address.city,
        address.state,
        address.postal_code,
        phone
    )
    .fetch_optional(db)
    .await
}

/// Stops using a location: its name, or None when no such location is in use.
pub async fn close_location(
    db: &mut PgConnection,
    id: ClinicLocationId,
    now: DateTime<Utc>,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE clinic_locations SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL RETURNING name",
        id.as_uuid(),
        now
    )
    .fetch_optional(db)
    .await
}
