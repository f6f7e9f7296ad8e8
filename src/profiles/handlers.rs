use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::domain::{
    self, CREDENTIALS, LicenceErrors, LicenceForm, ProviderErrors, ProviderForm, STATES, StaffErrors,
    StaffForm,
};
use super::repo::{self, Member};
use super::views::{LicenceLine, ProfilePage};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{Permission, StaffRole, Target};
use crate::db::errors::Refused;
use crate::db::ids::{MembershipId, ProviderLicenseId};
use crate::web::{AppError, AppResult, Page, TenantTx, parse_form};

/// The member the address names, in this clinic; anyone else's is not found (and the
/// attempt audited).
async fn open(tx: &TenantTx, id: &str) -> AppResult<(MembershipId, Member)> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "membership").await?;
    let id: MembershipId = id.parse().map_err(|_| AppError::NotFound)?;
    let member = repo::member(&mut *tx.conn().await?, id).await?;
    match member {
        Some(member) => Ok((id, member)),
        None => Err(tx.not_found("membership", id.as_uuid()).await),
    }
}

/// The page as stored, with nothing typed and no errors.
async fn render(
    tx: &TenantTx,
    id: MembershipId,
    member: Member,
    notice: Option<String>,
) -> AppResult<ProfilePage> {
    let today = tx.now().with_timezone(&tx.context().clinic_timezone).date_naive();
    let (staff, provider) = {
        let mut db = tx.conn().await?;
        (repo::staff(&mut db, member.user_id).await?, repo::provider(&mut db, member.user_id).await?)
    };
    let licences = match &provider {
        Some(p) => repo::licences(&mut *tx.conn().await?, p.id).await?,
        None => Vec::new(),
    };
    let role = StaffRole::parse(&member.role);
    Ok(ProfilePage {
        membership_id: id.to_string(),
        name: member.name,
        email: member.email,
        role_label: role.map_or("Unknown role", StaffRole::label),
        status: member.status,
        notice,
        staff: StaffForm {
            employee_id: staff.as_ref().and_then(|s| s.employee_id.clone()).unwrap_or_default(),
            job_title: staff.as_ref().and_then(|s| s.job_title.clone()).unwrap_or_default(),
        },
        staff_errors: StaffErrors::default(),
        is_provider: role == Some(StaffRole::Provider),
        has_provider_profile: provider.is_some(),
        provider: provider
            .map(|p| ProviderForm {
                npi: p.npi,
                dea: p.dea_number.unwrap_or_default(),
                credentials: p.credentials,
                specialty: p.specialty.unwrap_or_default(),
            })
            .unwrap_or_default(),
        provider_errors: ProviderErrors::default(),
        credentials: CREDENTIALS.to_vec(),
        licences: licences
            .into_iter()
            .map(|l| LicenceLine {
                id: l.id.to_string(),
                expires_soon: domain::expires_soon(l.expires_on, today),
                state: l.state,
                number: l.license_number,
                expires_on: l.expires_on.to_string(),
            })
            .collect(),
        licence: LicenceForm::default(),
        licence_errors: LicenceErrors::default(),
        states: STATES.to_vec(),
    })
}

/// The page again with what was typed and what is wrong with it.
fn refused(status: StatusCode, page: ProfilePage) -> Response {
    (status, Page(page)).into_response()
}

pub async fn page(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page<ProfilePage>> {
    let (id, member) = open(&tx, &id).await?;
    Ok(Page(render(&tx, id, member, None).await?))
}

pub async fn save_staff(
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let (id, member) = open(&tx, &id).await?;
    let form: StaffForm = parse_form(&body)?;
    let person = member.user_id;
    let (employee_id, job_title) = match form.check() {
        Ok(checked) => checked,
        Err(errors) => {
            let mut page = render(&tx, id, member, None).await?;
            (page.staff, page.staff_errors) = (form, errors);
            return Ok(refused(StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    let clinic = tx.context().tenant.organization_id;
    let (before, saved) = {
        let mut db = tx.conn().await?;
        let before = repo::staff(&mut db, person).await?;
        let saved =
            repo::save_staff(&mut db, clinic, person, employee_id.as_deref(), job_title.as_deref()).await?;
        (before, saved)
    };
    if let Err(Refused) = saved {
        let mut page = render(&tx, id, member, None).await?;
        page.staff = form;
        page.staff_errors.employee_id = Some("Another member of the clinic has this employee id.".into());
        return Ok(refused(StatusCode::CONFLICT, page));
    }
    tx.audit(
        &AuditEvent::success(Action::Update, "staff_profile", person.as_uuid())
            .purpose("member_profile")
            .details(json!({
                "membership_id": id.to_string(),
                "before": before.map(|b| json!({ "employee_id": b.employee_id, "job_title": b.job_title })),
                "after": { "employee_id": employee_id, "job_title": job_title },
            })),
    )
    .await?;
    Ok(Page(render(&tx, id, member, Some("Staff profile saved.".into())).await?).into_response())
}

pub async fn save_provider(
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let (id, member) = open(&tx, &id).await?;
    if StaffRole::parse(&member.role) != Some(StaffRole::Provider) {
        // Only a provider membership has a provider profile.
        return Err(AppError::NotFound);
    }
    let form: ProviderForm = parse_form(&body)?;
    let person = member.user_id;
    let profile = match form.check() {
        Ok(profile) => profile,
        Err(errors) => {
            let mut page = render(&tx, id, member, None).await?;
            (page.provider, page.provider_errors) = (form, errors);
            return Ok(refused(StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    let clinic = tx.context().tenant.organization_id;
    let (before, saved) = {
        let mut db = tx.conn().await?;
        let before = repo::provider(&mut db, person).await?;
        (before, repo::save_provider(&mut db, clinic, person, &profile).await?)
    };
    let provider = match saved {
        Ok(provider) => provider,
        Err(Refused) => {
            let mut page = render(&tx, id, member, None).await?;
            page.provider = form;
            page.provider_errors.npi = Some("Another provider of the clinic has this NPI.".into());
            return Ok(refused(StatusCode::CONFLICT, page));
        }
    };
    let created = before.is_none();
    tx.audit(
        &AuditEvent::success(if created { Action::Create } else { Action::Update }, "provider", provider.as_uuid())
            .purpose("member_profile")
            .details(json!({
                "membership_id": id.to_string(),
                "before": before.map(|b| json!({
                    "npi": b.npi, "dea_number": b.dea_number, "credentials": b.credentials, "specialty": b.specialty,
                })),
                "after": {
                    "npi": profile.npi, "dea_number": profile.dea, "credentials": profile.credentials,
                    "specialty": profile.specialty,
                },
            })),
    )
    .await?;
    let notice = if created {
        "Provider profile created: they can now be given working hours, booked and put on care teams."
    } else {
        "Provider profile saved."
    };
    Ok(Page(render(&tx, id, member, Some(notice.into())).await?).into_response())
}

pub async fn add_licence(
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let (id, member) = open(&tx, &id).await?;
    let form: LicenceForm = parse_form(&body)?;
    let today = tx.now().with_timezone(&tx.context().clinic_timezone).date_naive();
    let provider = repo::provider(&mut *tx.conn().await?, member.user_id).await?;
    let Some(provider) = provider.filter(|_| StaffRole::parse(&member.role) == Some(StaffRole::Provider))
    else {
        return Err(AppError::NotFound);
    };
    let checked = match form.check(today) {
        Ok(checked) => checked,
        Err(errors) => {
            let mut page = render(&tx, id, member, None).await?;
            (page.licence, page.licence_errors) = (form, errors);
            return Ok(refused(StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    let (state, number, expires_on) = checked;
    let clinic = tx.context().tenant.organization_id;
    let added =
        repo::add_licence(&mut *tx.conn().await?, clinic, provider.id, (state, &number, expires_on)).await?;
    let Ok(licence) = added else {
        let mut page = render(&tx, id, member, None).await?;
        page.licence = form;
        page.licence_errors.number = Some(format!("{state} licence {number} is already on the list."));
        return Ok(refused(StatusCode::CONFLICT, page));
    };
    tx.audit(
        &AuditEvent::success(Action::Create, "provider_license", licence.as_uuid())
            .purpose("member_profile")
            .details(json!({
                "provider_id": provider.id.to_string(), "before": null,
                "after": { "state": state, "license_number": number, "expires_on": expires_on },
            })),
    )
    .await?;
    Ok(Page(render(&tx, id, member, Some(format!("{state} licence added."))).await?).into_response())
}

pub async fn remove_licence(
    tx: TenantTx,
    Path((id, licence)): Path<(String, String)>,
) -> AppResult<Response> {
    let (id, member) = open(&tx, &id).await?;
    let licence: ProviderLicenseId = licence.parse().map_err(|_| AppError::NotFound)?;
    let provider = repo::provider(&mut *tx.conn().await?, member.user_id).await?;
    // As for adding: only through the person's provider membership.
    let Some(provider) = provider.filter(|_| StaffRole::parse(&member.role) == Some(StaffRole::Provider))
    else {
        return Err(AppError::NotFound);
    };
    if !repo::remove_licence(&mut *tx.conn().await?, provider.id, licence).await? {
        return Err(tx.not_found("provider_license", licence.as_uuid()).await);
    }
    tx.audit(
        &AuditEvent::success(Action::Delete, "provider_license", licence.as_uuid())
            .purpose("member_profile")
            .details(json!({ "provider_id": provider.id.to_string() })),
    )
    .await?;
    Ok(Page(render(&tx, id, member, Some("Licence removed.".into())).await?).into_response())
}
