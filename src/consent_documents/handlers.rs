use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;
use sqlx::PgConnection;

use super::domain::{Kind, check_body, check_title, check_version};
use super::repo;
use super::views::{DocumentPage, DocumentsPage, KindSection, PublishErrors, PublishForm, VersionRow};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{Permission, Target};
use crate::db::ids::{ConsentDocumentId, OrganizationId};
use crate::web::{AppError, AppResult, Page, SystemTx, TenantTx, parse_form};

/// Whose documents a page keeps: a clinic's, or the platform's.
struct Owner {
    organization: Option<OrganizationId>,
    kinds: &'static [Kind],
    timezone: Tz,
    heading: &'static str,
    intro: &'static str,
    path: &'static str,
    back_label: &'static str,
}

fn clinic(tx: &TenantTx) -> Owner {
    Owner {
        organization: Some(tx.context().tenant.organization_id),
        kinds: &Kind::CLINIC,
        timezone: tx.context().clinic_timezone,
        heading: "Consent documents",
        intro: "The notice of privacy practices and the consent to treatment people accept. Publishing a new version keeps the earlier ones readable; each person is asked to accept the new one the next time they enter the clinic.",
        path: "/settings/consents",
        back_label: "All consent documents",
    }
}

fn platform() -> Owner {
    Owner {
        organization: None,
        kinds: &Kind::PLATFORM,
        timezone: Tz::UTC,
        heading: "Terms of service",
        intro: "The platform's terms everyone accepts. Publishing a new version keeps the earlier ones readable; each person is asked to accept it at their next context entry, in any clinic.",
        path: "/platform/terms",
        back_label: "All versions",
    }
}

fn when(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%b %-d, %Y %H:%M %Z").to_string()
}

async fn list(
    db: &mut PgConnection,
    owner: &Owner,
    now: DateTime<Utc>,
    notice: Option<String>,
    typed: Option<(PublishForm, PublishErrors)>,
) -> AppResult<DocumentsPage> {
    let kinds: Vec<&str> = owner.kinds.iter().map(|k| k.as_str()).collect();
    let versions = repo::versions(db, owner.organization, &kinds).await?;
    let sections = owner
        .kinds
        .iter()
        .map(|kind| {
            let mut current_seen = false;
            let versions = versions
                .iter()
                .filter(|v| v.kind == kind.as_str())
                .map(|v| {
                    // Newest first: the first one already in effect is the current one.
                    let current = !current_seen && v.effective_at <= now;
                    current_seen |= current;
                    VersionRow {
                        href: format!("{}/{}", owner.path, v.id),
                        version: v.version.clone(),
                        title: v.title.clone(),
                        effective: when(v.effective_at, owner.timezone),
                        current,
                    }
                })
                .collect();
            KindSection { value: kind.as_str(), label: kind.label(), asked_of: kind.asked_of(), versions }
        })
        .collect();
    let (form, errors) = typed.unwrap_or_else(|| {
        let kind = owner.kinds.first().map(|k| k.as_str().to_owned()).unwrap_or_default();
        (PublishForm { kind, ..PublishForm::default() }, PublishErrors::default())
    });
    Ok(DocumentsPage {
        heading: owner.heading,
        intro: owner.intro,
        action: owner.path,
        sections,
        notice,
        form,
        errors,
    })
}

/// What a publication changes, checked; the form's messages otherwise.
fn checked(owner: &Owner, form: &PublishForm) -> Result<(Kind, String, String, String), PublishErrors> {
    let mut errors = PublishErrors::default();
    let kind = Kind::parse(&form.kind, owner.kinds);
    if kind.is_none() {
        errors.kind = Some("Choose which document this is a new version of.".into());
    }
    let version = check_version(&form.version).map_err(|e| errors.version = Some(e.into())).ok();
    let title = check_title(&form.title).map_err(|e| errors.title = Some(e.into())).ok();
    let body = check_body(&form.body).map_err(|e| errors.body = Some(e.into())).ok();
    match (kind, version, title, body) {
        (Some(kind), Some(version), Some(title), Some(body)) if !errors.any() => {
            Ok((kind, version.to_owned(), title.to_owned(), body.to_owned()))
        }
        _ => Err(errors),
    }
}

fn published_event(id: ConsentDocumentId, kind: Kind, version: &str, title: &str, body: &str) -> AuditEvent {
    use sha2::{Digest as _, Sha256};
    let digest: String = Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    AuditEvent::success(Action::Create, "consent_document", id.as_uuid())
        .purpose("consent_documents")
        .details(json!({ "before": null, "after": {
            "kind": kind.as_str(), "version": version, "title": title, "body_sha256": digest,
        } }))
}

fn document_page(owner: &Owner, document: repo::Document) -> DocumentPage {
    let kind = owner.kinds.iter().find(|k| k.as_str() == document.kind).map_or("Document", |k| k.label());
    DocumentPage {
        back: owner.path,
        back_label: owner.back_label,
        kind,
        title: document.title,
        version: document.version,
        effective: when(document.effective_at, owner.timezone),
        body: document.body,
    }
}

pub async fn clinic_page(tx: TenantTx) -> AppResult<Page<DocumentsPage>> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "consent_document").await?;
    let owner = clinic(&tx);
    Ok(Page(list(&mut *tx.conn().await?, &owner, tx.now(), None, None).await?))
}

/// `GET /settings/consents/{consent_document_id}`: one version, as people read it.
pub async fn clinic_document(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page<DocumentPage>> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "consent_document").await?;
    let id: ConsentDocumentId = id.parse().map_err(|_| AppError::NotFound)?;
    let owner = clinic(&tx);
    let found = repo::document(&mut *tx.conn().await?, owner.organization, id).await?;
    let Some(document) = found else { return Err(tx.not_found("consent_document", id.as_uuid()).await) };
    Ok(Page(document_page(&owner, document)))
}

/// `POST /settings/consents`: a new version of the clinic's notice or consent.
pub async fn clinic_publish(tx: TenantTx, body: axum::body::Bytes) -> AppResult<Response> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "consent_document").await?;
    let form: PublishForm = parse_form(&body)?;
    let owner = clinic(&tx);
    let now = tx.now();
    let (kind, version, title, text) = match checked(&owner, &form) {
        Ok(values) => values,
        Err(errors) => {
            let page = list(&mut *tx.conn().await?, &owner, now, None, Some((form, errors))).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
        }
    };
    let published = repo::publish(
        &mut *tx.conn().await?,
        owner.organization,
        kind.as_str(),
        &version,
        &title,
        &text,
        now,
    )
    .await?;
    let Some(id) = published else {
        let errors = PublishErrors {
            version: Some(format!(
                "Version {version} of this document exists already; give the new one its own."
            )),
            ..PublishErrors::default()
        };
        let page = list(&mut *tx.conn().await?, &owner, now, None, Some((form, errors))).await?;
        return Ok((StatusCode::CONFLICT, Page(page)).into_response());
    };
    tx.audit(&published_event(id, kind, &version, &title, &text)).await?;
    let notice = format!(
        "{} version {version} published. People are asked to accept it the next time they enter the clinic.",
        kind.label()
    );
    Ok(Page(list(&mut *tx.conn().await?, &owner, now, Some(notice), None).await?).into_response())
}

pub async fn platform_page(mut tx: SystemTx) -> AppResult<Page<DocumentsPage>> {
    let now = tx.now();
    let page = list(tx.conn().await?, &platform(), now, None, None).await?;
    tx.commit().await?;
    Ok(Page(page))
}

/// `GET /platform/terms/{consent_document_id}`: one version of the terms.
pub async fn platform_document(mut tx: SystemTx, Path(id): Path<String>) -> AppResult<Page<DocumentPage>> {
    let id: ConsentDocumentId = id.parse().map_err(|_| AppError::NotFound)?;
    let owner = platform();
    let document = repo::document(tx.conn().await?, None, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(Page(document_page(&owner, document)))
}

/// `POST /platform/terms`: a new version of the terms of service.
pub async fn platform_publish(mut tx: SystemTx, body: axum::body::Bytes) -> AppResult<Response> {
    let form: PublishForm = parse_form(&body)?;
    let owner = platform();
    let now = tx.now();
    let (kind, version, title, text) = match checked(&owner, &form) {
        Ok(values) => values,
        Err(errors) => {
            let page = list(tx.conn().await?, &owner, now, None, Some((form, errors))).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
        }
    };
    let published =
        repo::publish(tx.conn().await?, None, kind.as_str(), &version, &title, &text, now).await?;
    let Some(id) = published else {
        let errors = PublishErrors {
            version: Some(format!(
                "Version {version} of the terms exists already; give the new one its own."
            )),
            ..PublishErrors::default()
        };
        let page = list(tx.conn().await?, &owner, now, None, Some((form, errors))).await?;
        return Ok((StatusCode::CONFLICT, Page(page)).into_response());
    };
    tx.audit(&published_event(id, kind, &version, &title, &text)).await?;
    let notice = format!(
        "Terms of service version {version} published. Everyone is asked to accept it at their next context entry."
    );
    let page = list(tx.conn().await?, &owner, now, Some(notice), None).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}
