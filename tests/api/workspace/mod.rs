//! The staff workspace over real HTTP, one file per area: registry and search, registration with duplicate
//! detection, demographics, contacts and their safety flags, care teams, proxies,
//! scheduling (the exclusion constraint, DST), clinical notes, the role matrix over every
//! chart route, cross-tenant probes with real ids of the other clinic, and failure
//! atomicity.

use chrono::{Duration, NaiveDate, Utc};
use chrono_tz::America::New_York;
use lockdev::auth::policy::StaffRole;
use lockdev::db::ids::{OrganizationId, UserId};
use lockdev::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant};
use lockdev::web::authenticate::Authenticated;
use reqwest::StatusCode;
use sqlx::Row;
use uuid::Uuid;

use crate::fixtures::{TwoTenants, signed_in, staff, two_tenants};
use crate::helpers::{TestApp, spawn_app};

/// Runs `sql` in `org`'s tenant context as the owner (fixtures), returning the first
/// column of the first row if any.
pub async fn in_clinic(app: &TestApp, org: OrganizationId, sql: &str, binds: &[&dyn ToBind]) -> Option<Uuid> {
    let owner = app.database().owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = bind.bind_to(query);
    }
    let row = query.fetch_optional(&mut *tx).await.expect(sql);
    tx.commit().await.expect("commit");
    row.and_then(|r| r.try_get::<Uuid, _>(0).ok())
}

pub type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// A value a fixture query binds.
pub trait ToBind: Sync {
    fn bind_to<'q>(&'q self, query: Query<'q>) -> Query<'q>;
}

impl ToBind for Uuid {
    fn bind_to<'q>(&'q self, query: Query<'q>) -> Query<'q> {
        query.bind(*self)
    }
}

impl ToBind for &str {
    fn bind_to<'q>(&'q self, query: Query<'q>) -> Query<'q> {
        query.bind(*self)
    }
}

impl ToBind for i32 {
    fn bind_to<'q>(&'q self, query: Query<'q>) -> Query<'q> {
        query.bind(*self)
    }
}

/// An id as it appears in addresses (ULID text).
pub fn ulid(id: Uuid) -> String {
    ulid::Ulid::from(id).to_string()
}

/// A person with `role` at `org` (a provider gets a provider record).
pub async fn member(app: &TestApp, org: OrganizationId, role: StaffRole) -> (Authenticated, UserId) {
    let owner = app.database().owner_pool().await;
    let user = UserId::new();
    let mut tx = begin_system(&owner, &SystemContext::default()).await.expect("tx");
    sqlx::query("INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)")
        .bind(user)
        .bind(format!("{}.{}@staff.example", role.as_str(), user.to_string().to_lowercase()))
        .bind(format!("{} person", role.label()))
        .execute(&mut *tx)
        .await
        .expect("user");
    tx.commit().await.expect("commit");
    in_clinic(
        app,
        org,
        "INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)",
        &[&org.as_uuid(), &user.as_uuid(), &role.as_str()],
    )
    .await;
    if role == StaffRole::Provider {
        in_clinic(
            app,
            org,
            // An NPI (valid check digit) no provider of the clinic has yet.
            "INSERT INTO providers (organization_id, user_id, npi, credentials)
             SELECT $1, $2, n, 'NP' FROM unnest(ARRAY['1245319599', '1003000126', '1000000004', '1000000012',
                                                       '1000000020', '1000000038']) n
              WHERE NOT EXISTS (SELECT 1 FROM providers p WHERE p.npi = n) LIMIT 1",
            &[&org.as_uuid(), &user.as_uuid()],
        )
        .await;
    }
    (signed_in(user, staff(org, role)), user)
}

/// Two clinics; in A a visit kind (30 minutes) and the provider's hours Monday to Friday
/// 09:00-17:00 (New York).
pub async fn setup(patients: usize) -> (TestApp, TwoTenants, Uuid) {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, patients).await;
    let kind = in_clinic(
        &app,
        tenants.a.org,
        "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Follow-up', 30) RETURNING id",
        &[&tenants.a.org.as_uuid()],
    )
    .await
    .expect("kind");
    for weekday in 1..=5i32 {
        in_clinic(
            &app,
            tenants.a.org,
            "INSERT INTO provider_working_hours (organization_id, provider_id, weekday, starts, ends)
             VALUES ($1, $2, $3::int2, '09:00', '17:00')",
            &[&tenants.a.org.as_uuid(), &tenants.a.provider.as_uuid(), &weekday],
        )
        .await;
    }
    (app, tenants, kind)
}

pub async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let res = app.post_form(path, fields).await;
    let status = res.status();
    (status, res.text().await.expect("body"))
}

pub async fn get(app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = app.get(path).await;
    let status = res.status();
    (status, res.text().await.expect("body"))
}

pub async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar(sql).fetch_one(&mut su).await.expect(sql)
}

pub async fn register(
    app: &TestApp,
    given: &str,
    family: &str,
    born: &str,
    phone: &str,
) -> (StatusCode, String) {
    post(
        app,
        "/patients",
        &[
            ("given_name", given),
            ("family_name", family),
            ("date_of_birth", born),
            ("legal_sex", "female"),
            ("phone", phone),
            ("manages_own_care", "self"),
        ],
    )
    .await
}

mod registry;

/// The next Monday after today in New York, at least two days ahead.
pub fn next_monday() -> NaiveDate {
    let mut day = Utc::now().with_timezone(&New_York).date_naive() + Duration::days(2);
    while day.format("%u").to_string() != "1" {
        day += Duration::days(1);
    }
    day
}

mod allergies;
mod care_team;
mod contacts;
mod homes;
mod insurance;
mod medications;
mod merge;
pub(crate) mod notes;
mod problems;
mod profiles;
mod proxies;
mod robustness;
mod roles;
mod schedule;
mod vitals;
