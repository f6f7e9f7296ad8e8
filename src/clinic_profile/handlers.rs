use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::domain::{check_address, check_tax_id, show_tax_id};
use super::repo::{self, Profile};
use super::views::{LocationErrors, LocationForm, LocationRow, ProfileErrors, ProfileForm, ProfilePage};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{Permission, Target};
use crate::contact_info::{US_STATES, display};
use crate::db::ids::ClinicLocationId;
use crate::web::{AppError, AppResult, Page, TenantTx};

fn form_of(profile: &Profile) -> ProfileForm {
    ProfileForm {
        name: profile.name.clone(),
        tax_id: profile.tax_id.as_deref().map(show_tax_id).unwrap_or_default(),
        address_line1: profile.address_line1.clone().unwrap_or_default(),
        address_line2: profile.address_line2.clone().unwrap_or_default(),
        city: profile.city.clone().unwrap_or_default(),
        state: profile.region.clone().unwrap_or_default(),
        postal_code: profile.postal_code.clone().unwrap_or_default(),
        phone: profile.phone.as_deref().map(|p| display("phone", p)).unwrap_or_default(),
    }
}

/// The page, with the profile form as stored unless `typed` is given.
async fn render(
    tx: &TenantTx,
    notice: Option<String>,
    typed: Option<(ProfileForm, ProfileErrors)>,
    location: Option<(LocationForm, LocationErrors)>,
) -> AppResult<ProfilePage> {
    let clinic = tx.context().tenant.organization_id;
    let (profile, locations) = {
        let mut db = tx.conn().await?;
        (repo::profile(&mut db, clinic).await?, repo::open_locations(&mut db).await?)
    };
    let (form, errors) = typed.unwrap_or_else(|| (form_of(&profile), ProfileErrors::default()));
    let (location, location_errors) = location.unwrap_or_default();
    Ok(ProfilePage {
        notice,
        form,
        errors,
        timezone: profile.timezone,
        locations: locations
            .into_iter()
            .map(|l| LocationRow {
                id: l.id.to_string(),
                name: l.name,
                address: [Some(l.address_line1), l.address_line2, Some(l.city)]
                    .into_iter()
                    .flatten()
                    .chain([format!("{} {}", l.region, l.postal_code)])
                    .collect::<Vec<_>>()
                    .join(", "),
                phone: l.phone.map(|p| display("phone", &p)),
            })
            .collect(),
        location,
        location_errors,
        states: US_STATES.to_vec(),
    })
}

pub async fn page(tx: TenantTx) -> AppResult<Page<ProfilePage>> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "organization").await?;
    Ok(Page(render(&tx, None, None, None).await?))
}

/// `POST /settings/profile`: the clinic's name, EIN, address and main number.
pub async fn save(tx: TenantTx, body: axum::body::Bytes) -> AppResult<Response> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "organization").await?;
    let form: ProfileForm = crate::web::parse_form(&body)?;
    let mut errors = ProfileErrors::default();
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.name = Some("Enter the clinic's name (up to 200 characters).".into());
    }
    let tax_id = check_tax_id(&form.tax_id).map_err(|e| errors.tax_id = Some(e.into())).ok().flatten();
    let fields = [&*form.address_line1, &*form.address_line2, &*form.city, &*form.state, &*form.postal_code];
    let checked = check_address(fields, &form.phone, false).map_err(|e| errors.address = *e).ok();
    let Some((address, phone)) = checked.filter(|_| errors.name.is_none() && errors.tax_id.is_none()) else {
        let page = render(&tx, None, Some((form, errors)), None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    };
    let clinic = tx.context().tenant.organization_id;
    let (before, after) = {
        let mut db = tx.conn().await?;
        let before = repo::profile(&mut db, clinic).await?;
        let after =
            repo::save_profile(&mut db, clinic, name, tax_id.as_deref(), address.as_ref(), phone.as_deref())
                .await?;
        (before, after)
    };
    tx.audit(
        &AuditEvent::success(Action::Update, "organization", clinic.as_uuid())
            .purpose("clinic_profile")
            .details(json!({ "before": before, "after": after })),
    )
    .await?;
    Ok(Page(render(&tx, Some("Clinic profile saved.".into()), None, None).await?).into_response())
}

/// `POST /settings/locations`: a place the clinic sees patients.
pub async fn add_location(tx: TenantTx, body: axum::body::Bytes) -> AppResult<Response> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "clinic_location").await?;
    let form: LocationForm = crate::web::parse_form(&body)?;
    let mut errors = LocationErrors::default();
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.name =
            Some("Name the location (up to 200 characters), such as \u{201c}Main Street\u{201d}.".into());
    }
    let fields = [&*form.address_line1, &*form.address_line2, &*form.city, &*form.state, &*form.postal_code];
    let checked = check_address(fields, &form.phone, true).map_err(|e| errors.address = *e).ok();
    let Some((Some(address), phone)) = checked.filter(|_| errors.name.is_none()) else {
        let page = render(&tx, None, None, Some((form, errors))).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    };
    let clinic = tx.context().tenant.organization_id;
    let added = repo::add_location(&mut *tx.conn().await?, clinic, &name, &address, phone.as_deref()).await?;
    let Some(id) = added else {
        errors.name = Some("A location in use has that name already.".into());
        let page = render(&tx, None, None, Some((form, errors))).await?;
        return Ok((StatusCode::CONFLICT, Page(page)).into_response());
    };
    tx.audit(
        &AuditEvent::success(Action::Create, "clinic_location", id.as_uuid())
            .purpose("clinic_profile")
            .details(json!({ "before": null, "after": {
                "name": name, "address_line1": address.line1, "address_line2": address.line2,
                "city": address.city, "region": address.state, "postal_code": address.postal_code, "phone": phone,
            } })),
    )
    .await?;
    Ok(Page(render(&tx, Some(format!("{name} added.")), None, None).await?).into_response())
}

/// `POST /settings/locations/{location_id}/close`: the clinic no longer uses a location
/// (it stays on record).
pub async fn close_location(tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "clinic_location").await?;
    let id: ClinicLocationId = id.parse().map_err(|_| AppError::NotFound)?;
    let Some(name) = repo::close_location(&mut *tx.conn().await?, id, tx.now()).await? else {
        return Err(tx.not_found("clinic_location", id.as_uuid()).await);
    };
    tx.audit(
        &AuditEvent::success(Action::Update, "clinic_location", id.as_uuid())
            .purpose("clinic_profile")
            .details(json!({ "before": { "in_use": true }, "after": { "in_use": false } })),
    )
    .await?;
    Ok(Page(render(&tx, Some(format!("{name} is no longer listed.")), None, None).await?).into_response())
}
