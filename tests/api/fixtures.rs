//! Two tenants whose data look alike, and test-only PHI routes that use the public
//! building blocks (TenantTx, the policy, audit) the way features do.

#![allow(dead_code)]

use axum::Form;
use axum::extract::Path;
use chrono::NaiveDate;
use lockdev::audit::{Action, AuditEvent};
use lockdev::auth::policy::{PatientFacts, Permission, StaffRole, Target};
use lockdev::auth::session::ContextClaim;
use lockdev::db::ids::{OrganizationId, PatientId, ProviderId, UserId};
use lockdev::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant};
use lockdev::web::authenticate::Authenticated;
use lockdev::web::{Access, AppError, AppResult, Phi, Routes, TenantTx};
use serde::Deserialize;
use sqlx::{PgPool, Row};

/// Strings that must never appear in a response or log of the other tenant.
pub const CANARY_A: &str = "ALPHA-CANARY";
pub const CANARY_B: &str = "BRAVO-CANARY";

#[derive(Debug, Clone)]
pub struct Tenant {
    pub org: OrganizationId,
    pub provider_user: UserId,
    pub provider: ProviderId,
    pub desk_user: UserId,
    pub admin_user: UserId,
    /// Patients of this tenant; the first is on the provider's care team.
    pub patients: Vec<PatientId>,
}

#[derive(Debug, Clone)]
pub struct TwoTenants {
    pub a: Tenant,
    pub b: Tenant,
}

/// Creates two organizations with staff and `patients_each` patients, as the owner role
/// through tenant transactions (row-level security is forced for the owner too).
pub async fn two_tenants(owner: &PgPool, patients_each: usize) -> TwoTenants {
    let a = tenant(owner, "Alpha Clinic", CANARY_A, patients_each).await;
    let b = tenant(owner, "Bravo Clinic", CANARY_B, patients_each).await;
    TwoTenants { a, b }
}

async fn tenant(owner: &PgPool, name: &str, canary: &str, patients_each: usize) -> Tenant {
    let org = OrganizationId::new();
    let provider_user = UserId::new();
    let desk_user = UserId::new();
    let admin_user = UserId::new();
    let mut tx = begin_system(owner, &SystemContext::default()).await.expect("system tx");
    sqlx::query("INSERT INTO organizations (id, name) VALUES ($1, $2)")
        .bind(org)
        .bind(name)
        .execute(&mut *tx)
        .await
        .expect("organization");
    for (user, label) in [(provider_user, "provider"), (desk_user, "desk"), (admin_user, "admin")] {
        sqlx::query("INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)")
            .bind(user)
            .bind(format!("{label}.{}@{}.example", user.to_string().to_lowercase(), canary.to_lowercase()))
            .bind(format!("{label} {canary}"))
            .execute(&mut *tx)
            .await
            .expect("user");
    }
    tx.commit().await.expect("commit");

    let mut tx = begin_tenant(owner, &TenantContext::system(org)).await.expect("tenant tx");
    for (user, role) in [(provider_user, "provider"), (desk_user, "admin_staff"), (admin_user, "org_admin")] {
        sqlx::query("INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)")
            .bind(org)
            .bind(user)
            .bind(role)
            .execute(&mut *tx)
            .await
            .expect("membership");
    }
    let provider = ProviderId::new();
    sqlx::query(
        "INSERT INTO providers (organization_id, id, user_id, npi, credentials) VALUES ($1, $2, $3, '1234567893', 'MD')",
    )
    .bind(org)
    .bind(provider)
    .bind(provider_user)
    .execute(&mut *tx)
    .await
    .expect("provider");
    let mut patients = Vec::new();
    for i in 0..patients_each {
        let id = PatientId::new();
        sqlx::query(
            "INSERT INTO patients (organization_id, id, mrn, given_name, family_name, date_of_birth, legal_sex)
             VALUES ($1, $2, $3, $4, $5, $6, 'unknown')",
        )
        .bind(org)
        .bind(id)
        .bind(format!("MRN-{i}"))
        .bind(format!("Pat{i}"))
        .bind(format!("{canary}-{i}"))
        .bind(NaiveDate::from_ymd_opt(1980, 1, 1 + (i % 28) as u32).expect("date"))
        .execute(&mut *tx)
        .await
        .expect("patient");
        sqlx::query(
            "INSERT INTO contact_methods (organization_id, patient_id, kind, value) VALUES ($1, $2, 'mobile', '+16175550100')",
        )
        .bind(org)
        .bind(id)
        .execute(&mut *tx)
        .await
        .expect("contact");
        patients.push(id);
    }
    if let Some(first) = patients.first() {
        sqlx::query("INSERT INTO care_team_members (organization_id, patient_id, provider_id, role) VALUES ($1, $2, $3, 'primary')")
            .bind(org)
            .bind(first)
            .bind(provider)
            .execute(&mut *tx)
            .await
            .expect("care team");
    }
    tx.commit().await.expect("commit");
    Tenant { org, provider_user, provider, desk_user, admin_user, patients }
}

/// `user`, fully signed in, acting in `claim` with its consents accepted.
pub fn signed_in(user: UserId, claim: ContextClaim) -> Authenticated {
    Authenticated {
        user_id: user,
        second_factor_satisfied: true,
        second_factor_enrolled: true,
        context: Some(claim),
        consents_accepted: true,
        reauthenticated_at: chrono::Utc::now(),
        last_activity: chrono::Utc::now(),
        idle_minutes: 15,
        standing: lockdev::auth::contexts::Standing::Good,
        disabled_modules: Vec::new(),
        impersonating: None,
    }
}

/// The claim of `role` at `org`.
pub fn staff(org: OrganizationId, role: StaffRole) -> ContextClaim {
    ContextClaim::Staff { organization_id: org, role }
}

impl Tenant {
    pub fn provider_context(&self) -> Authenticated {
        signed_in(self.provider_user, staff(self.org, StaffRole::Provider))
    }

    pub fn desk_context(&self) -> Authenticated {
        signed_in(self.desk_user, staff(self.org, StaffRole::AdminStaff))
    }

    pub fn admin_context(&self) -> Authenticated {
        signed_in(self.admin_user, staff(self.org, StaffRole::OrgAdmin))
    }
}

// ---- test-only PHI routes ---------------------------------------------------------

/// `GET /test/patients/{patient_id}` (reads PHI), `POST /test/patients` (registers) and
/// `POST /test/patients/{patient_id}/family-name` (edits).
pub fn phi_routes() -> Routes {
    Routes::new()
        .get(
            "/test/patients/{patient_id}",
            Access::Staff(Permission::ViewDemographics),
            Phi::Reads,
            show_patient,
        )
        .post("/test/patients", Access::Staff(Permission::RegisterPatient), Phi::Writes, register_patient)
        .post(
            "/test/patients/{patient_id}/family-name",
            Access::Staff(Permission::EditDemographics),
            Phi::Writes,
            rename_patient,
        )
}

async fn facts(tx: &TenantTx, patient: PatientId) -> AppResult<PatientFacts> {
    let user = tx.context().tenant.user_id;
    let mut db = tx.conn().await?;
    let on_care_team: Option<bool> = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM care_team_members c JOIN providers p
                          ON p.organization_id = c.organization_id AND p.id = c.provider_id
                        WHERE c.patient_id = p2.id AND c.removed_at IS NULL AND p.user_id = $2)
           FROM patients p2 WHERE p2.id = $1 AND p2.deleted_at IS NULL",
    )
    .bind(patient)
    .bind(user)
    .fetch_optional(&mut *db)
    .await?;
    drop(db);
    match on_care_team {
        Some(on_care_team) => Ok(PatientFacts { patient_id: patient, on_care_team, sensitive: false }),
        None => Err(tx.not_found("patient", patient.as_uuid()).await),
    }
}

async fn show_patient(tx: TenantTx, Path(patient): Path<PatientId>) -> AppResult<String> {
    let facts = facts(&tx, patient).await?;
    tx.authorize(Permission::ViewDemographics, Target::Patient(facts), "patient").await?;
    let row = sqlx::query("SELECT given_name, family_name FROM patients WHERE id = $1")
        .bind(patient)
        .fetch_one(&mut *tx.conn().await?)
        .await?;
    tx.audit(
        &AuditEvent::success(Action::Read, "patient", patient).patient(patient).purpose("test.demographics"),
    )
    .await?;
    Ok(format!("{} {}", row.get::<String, _>("given_name"), row.get::<String, _>("family_name")))
}

#[derive(Deserialize)]
pub struct NewPatient {
    mrn: String,
    given_name: String,
    family_name: String,
    date_of_birth: NaiveDate,
    /// Sent by an attacker; must be ignored.
    #[allow(dead_code)]
    organization_id: Option<String>,
}

async fn register_patient(tx: TenantTx, Form(form): Form<NewPatient>) -> AppResult<String> {
    tx.authorize(Permission::RegisterPatient, Target::Organization, "patient").await?;
    let id = PatientId::new();
    let org = tx.context().tenant.organization_id;
    sqlx::query(
        "INSERT INTO patients (organization_id, id, mrn, given_name, family_name, date_of_birth, legal_sex)
         VALUES ($1, $2, $3, $4, $5, $6, 'unknown')",
    )
    .bind(org)
    .bind(id)
    .bind(&form.mrn)
    .bind(&form.given_name)
    .bind(&form.family_name)
    .bind(form.date_of_birth)
    .execute(&mut *tx.conn().await?)
    .await
    .map_err(|_| AppError::BadRequest("That patient could not be registered.".into()))?;
    tx.audit(&AuditEvent::success(Action::Create, "patient", id).patient(id)).await?;
    Ok(id.to_string())
}

#[derive(Deserialize)]
pub struct Rename {
    family_name: String,
}

async fn rename_patient(
    tx: TenantTx,
    Path(patient): Path<PatientId>,
    Form(form): Form<Rename>,
) -> AppResult<String> {
    let facts = facts(&tx, patient).await?;
    tx.authorize(Permission::EditDemographics, Target::Patient(facts), "patient").await?;
    sqlx::query("UPDATE patients SET family_name = $2 WHERE id = $1")
        .bind(patient)
        .bind(&form.family_name)
        .execute(&mut *tx.conn().await?)
        .await?;
    tx.audit(
        &AuditEvent::success(Action::Update, "patient", patient).patient(patient).purpose("test.rename"),
    )
    .await?;
    Ok("renamed".into())
}
