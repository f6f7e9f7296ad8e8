use std::collections::HashMap;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::json;
use uuid::Uuid;

use super::repo::{self, Filters};
use super::views::{DisclosuresPage, DisclosuresQuery, EventLine, SearchErrors, SearchPage, SearchQuery};
use crate::audit::{Action, AuditEvent};
use crate::db::errors::lacks_privilege;
use crate::db::ids::OrganizationId;
use crate::web::{AppError, AppResult, Page, SystemTx};

const PAGE: i32 = 50;
/// The outcomes an event may have.
const OUTCOMES: [&str; 3] = ["success", "denied", "failure"];

fn day(text: &str) -> Result<Option<DateTime<Utc>>, ()> {
    match text.trim() {
        "" => Ok(None),
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(|d| Some(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()))
            .map_err(|_| ()),
    }
}

fn keyset(text: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (at, id) = text.split_once('~')?;
    Some((DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc), id.parse().ok()?))
}

/// `GET /compliance/audit`: the search form, and a page of results once a clinic (or the
/// platform) is chosen.
pub async fn search(mut tx: SystemTx, Query(query): Query<SearchQuery>) -> AppResult<Response> {
    let conn = tx.conn().await?;
    let clinics: Vec<(String, String)> =
        repo::clinics(&mut *conn).await?.into_iter().map(|(id, name)| (id.to_string(), name)).collect();
    let mut page = SearchPage {
        clinics,
        query: query.clone(),
        errors: SearchErrors::default(),
        searched: false,
        events: Vec::new(),
        next: None,
    };
    if query.clinic.is_empty() {
        tx.commit().await?;
        return Ok(Page(page).into_response());
    }
    let clinic = match query.clinic.as_str() {
        "platform" => None,
        id => match id.parse::<OrganizationId>() {
            Ok(id) if page.clinics.iter().any(|(c, _)| *c == query.clinic) => Some(id),
            _ => {
                page.errors.clinic = Some("Choose a clinic from the list, or the platform.".into());
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
            }
        },
    };
    let actor = match crate::contact_info::normalize_email(&query.actor) {
        _ if query.actor.trim().is_empty() => None,
        Ok(email) => match repo::person(tx.conn().await?, &email).await? {
            Some(person) => Some(person),
            None => {
                page.errors.actor = Some("Nobody signs in with that address.".into());
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
            }
        },
        Err(message) => {
            page.errors.actor = Some(message.into());
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
        }
    };
    let (Ok(from), Ok(to)) = (day(&query.from), day(&query.to)) else {
        page.errors.period = Some("Enter the days as YYYY-MM-DD.".into());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    };
    // The last day is included.
    let to = to.map(|t| t + TimeDelta::days(1));
    let mrn = Some(query.mrn.trim()).filter(|m| !m.is_empty());
    let action = Some(query.action.trim()).filter(|a| !a.is_empty());
    let outcome = Some(query.outcome.as_str()).filter(|o| OUTCOMES.contains(o));
    let filters = Filters {
        clinic,
        mrn,
        actor,
        action,
        outcome,
        break_glass: !query.break_glass.is_empty(),
        from,
        to,
        after: keyset(&query.after),
        page_size: PAGE + 1,
    };
    let mut events = match repo::search(tx.conn().await?, &filters).await {
        Ok(events) => events,
        Err(error) if lacks_privilege(&error) => return Err(AppError::Forbidden),
        Err(error) => return Err(error.into()),
    };
    let more = events.len() > PAGE as usize;
    events.truncate(PAGE as usize);
    let ids: Vec<Uuid> =
        events.iter().flat_map(|e| [e.actor_user_id, e.acting_for_user_id]).flatten().collect();
    let names: HashMap<Uuid, String> = repo::people(tx.conn().await?, &ids).await?.into_iter().collect();
    if more && let Some(last) = events.last() {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("clinic", &query.clinic),
            ("mrn", &query.mrn),
            ("actor", &query.actor),
            ("action", &query.action),
            ("outcome", &query.outcome),
            ("break_glass", &query.break_glass),
            ("from", &query.from),
            ("to", &query.to),
        ] {
            if !value.is_empty() {
                next.append_pair(name, value);
            }
        }
        next.append_pair("after", &format!("{}~{}", last.occurred_at.to_rfc3339(), last.id));
        page.next = Some(format!("/compliance/audit?{}", next.finish()));
    }
    page.events = lines(events, &names);
    page.searched = true;
    tx.audit(
        &AuditEvent::success(Action::Read, "audit_log", clinic.map_or(Uuid::nil(), |c| c.as_uuid())).details(
            json!({
                "clinic": query.clinic, "mrn": mrn, "actor": actor.map(|a| a.to_string()), "action": action,
                "outcome": outcome, "break_glass": filters.break_glass, "from": query.from, "to": query.to,
                "shown": page.events.len(),
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}

/// The events as the pages show them, with people's names.
fn lines(events: Vec<repo::Event>, names: &HashMap<Uuid, String>) -> Vec<EventLine> {
    let name = |id: Option<Uuid>| id.map(|id| names.get(&id).cloned().unwrap_or_else(|| id.to_string()));
    events
        .into_iter()
        .map(|e| EventLine {
            when: e.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            who: match (name(e.actor_user_id), name(e.acting_for_user_id)) {
                (Some(actor), Some(for_whom)) => format!("{actor}, acting as {for_whom}"),
                (Some(actor), None) => actor,
                _ => e.actor_kind,
            },
            role: e.role.unwrap_or_default(),
            action: e.action,
            about: e.resource_type.unwrap_or_default(),
            mrn: e.mrn.or(e.patient_id.map(|p| p.to_string())).unwrap_or_default(),
            denied: e.outcome != "success",
            outcome: e.outcome,
            break_glass: e.break_glass,
            purpose: e.purpose.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
        })
        .collect()
}

/// The most events one accounting shows (four pages of the search).
const ACCOUNTING_LIMIT: usize = 800;

/// `GET /compliance/disclosures`: the accounting of disclosures for one patient of one
/// clinic over a period (the last year when none is given), oldest first, printable.
pub async fn disclosures(mut tx: SystemTx, Query(query): Query<DisclosuresQuery>) -> AppResult<Response> {
    let clinics = repo::clinics(tx.conn().await?).await?;
    let now = tx.now();
    let mut page = DisclosuresPage {
        clinics: clinics.iter().map(|(id, name)| (id.to_string(), name.clone())).collect(),
        query: query.clone(),
        error: None,
        heading: None,
        events: Vec::new(),
        cut: false,
        printed: now.format("%Y-%m-%d %H:%M UTC").to_string(),
    };
    if query.clinic.is_empty() && query.mrn.is_empty() {
        tx.commit().await?;
        return Ok(Page(page).into_response());
    }
    let clinic = clinics.iter().find(|(id, _)| id.to_string() == query.clinic);
    let mrn = query.mrn.trim();
    let (Some((clinic, clinic_name)), false, Ok(from), Ok(to)) =
        (clinic, mrn.is_empty(), day(&query.from), day(&query.to))
    else {
        page.error = Some("Choose the clinic, enter the record number, and the days as YYYY-MM-DD.".into());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    };
    // Whole UTC days, the last one included: through today when no end is given.
    let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let to = to.unwrap_or(today) + TimeDelta::days(1);
    let from = from.unwrap_or(to - TimeDelta::days(366));
    let mut events: Vec<repo::Event> = Vec::new();
    let mut after = None;
    loop {
        let filters = Filters {
            clinic: Some(*clinic),
            mrn: Some(mrn),
            actor: None,
            action: None,
            outcome: None,
            break_glass: false,
            from: Some(from),
            to: Some(to),
            after,
            page_size: 200,
        };
        let batch = match repo::search(tx.conn().await?, &filters).await {
            Ok(batch) => batch,
            Err(error) if lacks_privilege(&error) => return Err(AppError::Forbidden),
            Err(error) => return Err(error.into()),
        };
        let full = batch.len() == 200;
        after = batch.last().map(|e| (e.occurred_at, e.id));
        events.extend(batch);
        if !full || events.len() > ACCOUNTING_LIMIT {
            break;
        }
    }
    page.cut = events.len() > ACCOUNTING_LIMIT;
    events.truncate(ACCOUNTING_LIMIT);
    // Oldest first, as an accounting reads.
    events.reverse();
    let ids: Vec<Uuid> =
        events.iter().flat_map(|e| [e.actor_user_id, e.acting_for_user_id]).flatten().collect();
    let names: HashMap<Uuid, String> = repo::people(tx.conn().await?, &ids).await?.into_iter().collect();
    page.heading = Some(format!(
        "Record {mrn} at {clinic_name}, {} to {}",
        from.format("%Y-%m-%d"),
        (to - TimeDelta::days(1)).format("%Y-%m-%d")
    ));
    page.events = lines(events, &names);
    tx.audit(&AuditEvent::success(Action::Read, "audit_log", clinic.as_uuid()).purpose("disclosure_accounting").details(
        json!({ "clinic": clinic.to_string(), "mrn": mrn, "from": from, "to": to, "shown": page.events.len() }),
    ))
    .await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}
