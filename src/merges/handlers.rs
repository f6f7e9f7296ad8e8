use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::domain::{MergeForm, reason};
use super::repo::{self, ChartSummary};
use super::views::{MergePage, Side};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::Permission;
use crate::chart;
use crate::web::{AppError, AppResult, Page, TenantTx, parse_form};

fn side(c: &ChartSummary) -> Side {
    Side {
        name: format!("{}, {}", c.family_name, c.given_name),
        born: c.date_of_birth.format("%Y-%m-%d").to_string(),
        mrn: c.mrn.clone(),
        portal: c.has_portal,
        visits: c.visits,
        notes: c.notes,
        contacts: c.contacts,
    }
}

fn page(survivor: &ChartSummary, duplicate: Option<&ChartSummary>, form: MergeForm) -> MergePage {
    MergePage {
        patient_id: survivor.id.to_string(),
        survivor: side(survivor),
        duplicate: duplicate.map(side),
        form,
        mrn_error: None,
        reason_error: None,
        confirm_error: None,
    }
}

/// The page shows both charts' names and counts: a read of each, on record.
async fn audit_read(
    tx: &TenantTx,
    survivor: &ChartSummary,
    duplicate: Option<&ChartSummary>,
) -> AppResult<()> {
    tx.audit(
        &AuditEvent::success(Action::Read, "patient", survivor.id)
            .patient(survivor.id)
            .purpose("registry.merge"),
    )
    .await?;
    if let Some(duplicate) = duplicate {
        tx.audit(
            &AuditEvent::success(Action::Read, "patient", duplicate.id)
                .patient(duplicate.id)
                .purpose("registry.merge"),
        )
        .await?;
    }
    Ok(())
}

pub async fn form(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page<MergePage>> {
    let opened = chart::open(&tx, &id, Permission::RemovePatient).await?;
    let survivor = repo::chart(&mut *tx.conn().await?, opened.id()).await?;
    let Some(survivor) = survivor else { return Err(tx.not_found("patient", opened.id().as_uuid()).await) };
    audit_read(&tx, &survivor, None).await?;
    Ok(Page(page(&survivor, None, MergeForm::default())))
}

pub async fn merge(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let opened = chart::open(&tx, &id, Permission::RemovePatient).await?;
    let form: MergeForm = parse_form(&body)?;
    let survivor = repo::chart(&mut *tx.conn().await?, opened.id()).await?;
    let Some(survivor) = survivor else { return Err(tx.not_found("patient", opened.id().as_uuid()).await) };
    let duplicate = match form.mrn.trim() {
        "" => None,
        mrn => repo::chart_by_mrn(&mut *tx.conn().await?, mrn).await?,
    };
    let mrn_error = match &duplicate {
        None if form.mrn.trim().is_empty() => Some("Enter the MRN of the duplicate chart.".to_owned()),
        None => Some(format!("No chart in this clinic's registry has the MRN {}.", form.mrn.trim())),
        Some(d) if d.id == survivor.id => Some("That is this chart: enter the duplicate's MRN.".to_owned()),
        Some(d) if d.has_portal && survivor.has_portal => Some(
            "Both charts have a portal account: close one of the accounts before merging (each person signs in to one chart)."
                .to_owned(),
        ),
        Some(_) => None,
    };
    let checked_reason = reason(&form.reason).map(str::to_owned);
    let confirm_error = form.confirm.is_empty().then_some("Tick the box once you have compared both charts.");
    if mrn_error.is_some() || checked_reason.is_err() || confirm_error.is_some() {
        let shown = duplicate.as_ref().filter(|_| mrn_error.is_none());
        audit_read(&tx, &survivor, shown).await?;
        let status = if shown.is_some() && mrn_error.is_none() && form.confirm.is_empty() {
            StatusCode::CONFLICT
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let first_look = shown.is_some() && form.confirm.is_empty();
        let mut answer = page(&survivor, shown, form);
        answer.mrn_error = mrn_error;
        // The first look at the duplicate asks only for the comparison to be confirmed.
        if !first_look {
            answer.reason_error = checked_reason.err();
        }
        answer.confirm_error = if first_look { None } else { confirm_error };
        return Ok((status, Page(answer)).into_response());
    }
    // Both are known good here (every other case answered above); no panic on a request.
    let (Some(duplicate), Ok(reason)) = (duplicate, checked_reason) else {
        return Err(AppError::Internal);
    };
    let clinic = tx.context().tenant.organization_id;
    let by = tx.context().tenant.person();
    let moved =
        repo::merge(&mut *tx.conn().await?, clinic, survivor.id, duplicate.id, tx.now(), by, &reason).await?;
    let details = json!({
        "survivor_id": survivor.id.to_string(),
        "merged_id": duplicate.id.to_string(),
        "moved": moved.iter().map(|(t, (rows, left))| (t.to_string(), json!({ "moved": rows, "left": left }))).collect::<serde_json::Map<_, _>>(),
    });
    tx.audit(
        &AuditEvent::success(Action::Update, "patient", survivor.id)
            .patient(survivor.id)
            .purpose("registry.merge")
            .details(details.clone()),
    )
    .await?;
    tx.audit(
        &AuditEvent::success(Action::Delete, "patient", duplicate.id)
            .patient(duplicate.id)
            .purpose("registry.merge")
            .details(details),
    )
    .await?;
    Ok(Redirect::to(&format!("/patients/{}", survivor.id)).into_response())
}
