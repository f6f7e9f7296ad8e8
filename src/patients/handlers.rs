use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::domain::{
    Demographics, PatientForm, REMOVAL_UNDO_DAYS, SEXES, SearchQuery, age_on, day_and_month_swapped,
    match_reason, removal_reason, sex_label,
};
use super::repo::{self, HitRow, PAGE};
use super::views::{
    Candidate, EditSection, Fact, PatientHit, RegisterPage, RegistryPage, RemoveForm, RemoveSection,
    RemovedPage, RemovedRow, SearchResults, SummarySection, UpcomingVisit,
};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::policy::{Permission, Target};
use crate::chart::{self, Chart};
use crate::db::ids::PatientId;
use crate::web::{AppResult, Framed, Page, TenantTx, parse_form};

/// Where a chosen patient goes when the registry is used to pick one for something begun
/// elsewhere (an empty slot on the schedule: "now choose the patient"): a chart section
/// some feature declared, with the query it asked to carry. Anything else is ignored and
/// the registry opens charts as usual.
#[derive(Debug, Clone)]
pub(crate) struct NextStep {
    /// The section's tab label ("Appointments").
    label: &'static str,
    path: &'static str,
    query: String,
}

impl NextStep {
    fn parse(text: &str, tx: &TenantTx) -> Option<Self> {
        let (path, query) = text.split_once('?').unwrap_or((text, ""));
        let safe = |c: char| c.is_ascii_alphanumeric() || "-_=&:.".contains(c);
        if query.len() > 300 || !query.chars().all(safe) {
            return None;
        }
        let tab = tx.chart_tabs().tabs().iter().find(|t| t.path == path)?;
        Some(Self { label: tab.label, path: tab.path, query: query.to_owned() })
    }

    fn href(&self, patient: &str) -> String {
        let path = self.path.replace("{patient_id}", patient);
        if self.query.is_empty() { path } else { format!("{path}?{}", self.query) }
    }

    /// As it travels in the search form.
    fn text(&self) -> String {
        if self.query.is_empty() { self.path.to_owned() } else { format!("{}?{}", self.path, self.query) }
    }
}

fn hits(tx: &TenantTx, rows: Vec<HitRow>, next: Option<&NextStep>) -> Vec<PatientHit> {
    let today = tx.now().date_naive();
    rows.into_iter()
        .map(|r| PatientHit {
            href: match next {
                Some(next) => next.href(&r.id.to_string()),
                None => format!("/patients/{}", r.id),
            },
            name: match r.preferred_name {
                Some(p) if p != r.given_name => {
                    format!("{}, {} \u{201c}{p}\u{201d}", r.family_name, r.given_name)
                }
                _ => format!("{}, {}", r.family_name, r.given_name),
            },
            date_of_birth: r.date_of_birth.format("%Y-%m-%d").to_string(),
            age: age_on(r.date_of_birth, today),
            mrn: r.mrn,
            sex: sex_label(&r.legal_sex),
        })
        .collect()
}

fn read_as(query: &SearchQuery) -> &'static str {
    match query {
        SearchQuery::All => "everyone",
        SearchQuery::Email(_) => "e-mail address",
        SearchQuery::Phone { mrn: Some(_), .. } => "phone number or MRN",
        SearchQuery::Phone { .. } => "phone number",
        SearchQuery::Mrn(_) => "MRN",
        SearchQuery::Names { date_of_birth: Some(_), .. } => "name and date of birth",
        SearchQuery::Names { .. } => "name",
        SearchQuery::DateOfBirth(_) => "date of birth",
    }
}

/// Runs one search page and audits it (who searched, how many results; never the terms,
/// which are PHI).
async fn run_search(
    tx: &TenantTx,
    text: &str,
    after: Option<PatientId>,
    next: Option<&NextStep>,
) -> AppResult<SearchResults> {
    tx.authorize(Permission::SearchPatients, Target::Organization, "patient_search").await?;
    let query = SearchQuery::parse(text);
    let mut rows = {
        let mut db = tx.conn().await?;
        repo::search(&mut db, &query, after).await?
    };
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next_after = more.then(|| rows.last().map(|r| r.id.to_string())).flatten();
    let mut event = AuditEvent::new(Action::Read, Outcome::Success);
    event.resource_type = Some("patient_search");
    event.purpose = Some("registry.search".into());
    event.details = json!({
        "read_as": read_as(&query),
        "results": rows.len(),
        "page_after": after.is_some(),
        "patient_ids": crate::audit::shown_patients(rows.iter().map(|r| r.id)),
    });
    tx.audit(&event).await?;
    Ok(SearchResults {
        query: text.to_owned(),
        hits: hits(tx, rows, next),
        then: next.map(NextStep::text).unwrap_or_default(),
        next_after,
        continuation: after.is_some(),
        read_as: read_as(&query),
    })
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct RegistryQuery {
    /// A chart section to open for the chosen patient (see [`NextStep`]).
    then: String,
}

/// The registry with everyone, A to Z (the search box narrows it).
pub async fn registry(
    tx: TenantTx,
    Query(query): Query<RegistryQuery>,
) -> AppResult<Framed<RegistryPage, SearchResults>> {
    let next = NextStep::parse(&query.then, &tx);
    let results = run_search(&tx, "", None, next.as_ref()).await?;
    Ok(Framed(registry_frame(&tx, String::new(), next.as_ref()), results))
}

fn registry_frame(tx: &TenantTx, query: String, next: Option<&NextStep>) -> RegistryPage {
    RegistryPage {
        then: next.map(NextStep::text).unwrap_or_default(),
        then_label: next.map(|n| n.label),
        can_register: crate::auth::policy::grants(tx.context().principal, Permission::RegisterPatient),
        can_restore: crate::auth::policy::grants(tx.context().principal, Permission::RemovePatient),
        query,
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    then: String,
}

/// The typeahead: terms arrive in the body (they are PHI, so never in a URL).
pub async fn search(tx: TenantTx, body: axum::body::Bytes) -> AppResult<Framed<RegistryPage, SearchResults>> {
    let form: SearchForm = parse_form(&body)?;
    let after = form.after.parse::<PatientId>().ok();
    let next = NextStep::parse(&form.then, &tx);
    let results = run_search(&tx, &form.q, after, next.as_ref()).await?;
    Ok(Framed(registry_frame(&tx, form.q, next.as_ref()), results))
}

pub(crate) async fn new_patient(tx: TenantTx) -> AppResult<Page<RegisterPage>> {
    tx.authorize(Permission::RegisterPatient, Target::Organization, "patient").await?;
    // Legal sex is a choice the front desk makes with the patient, never a default.
    let form =
        PatientForm { legal_sex: String::new(), manages_own_care: "self".into(), ..PatientForm::default() };
    Ok(Page(RegisterPage::new(form, Default::default(), Vec::new())))
}

/// Registers a patient. Same name and date of birth, or the same phone number, shows the
/// candidates first; the person creates anyway only after seeing them.
pub async fn register(tx: TenantTx, body: axum::body::Bytes) -> AppResult<Response> {
    tx.authorize(Permission::RegisterPatient, Target::Organization, "patient").await?;
    let form: PatientForm = parse_form(&body)?;
    let today = tx.now().date_naive();
    let (demographics, mut errors) = match form.validate(today) {
        Ok(d) => (Some(d), Default::default()),
        Err(errors) => (None, *errors),
    };
    let contacts = form.first_contacts(&mut errors);
    let demographics = match demographics {
        Some(d) if !errors.any() => d,
        _ => {
            let page = RegisterPage::new(form, errors, Vec::new());
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
        }
    };
    let context = tx.context().tenant.clone();
    if form.confirm_new.is_empty() {
        let duplicates = {
            let mut db = tx.conn().await?;
            let swapped = day_and_month_swapped(demographics.date_of_birth);
            repo::possible_duplicates(&mut db, &demographics, swapped, contacts.mobile.as_deref()).await?
        };
        if !duplicates.is_empty() {
            // Records the typed name and date of birth match, exactly or nearly, are shown
            // closest first (with their MRN, to open the right chart); records that merely
            // share the number are counted, not named. Showing candidates reads other
            // patients' records: audited as a read.
            let (named, by_phone): (Vec<_>, Vec<_>) =
                duplicates.into_iter().partition(|d| match_reason(d.kind).is_some());
            let mut event = AuditEvent::new(Action::Read, Outcome::Success);
            event.resource_type = Some("patient_duplicates");
            event.purpose = Some("registry.duplicate_check".into());
            event.details = json!({
                "candidates": named.iter().map(|d| d.id.to_string()).collect::<Vec<_>>(),
                "sharing_the_number": by_phone.len(),
            });
            tx.audit(&event).await?;
            let candidates = named
                .into_iter()
                .map(|d| Candidate {
                    id: d.id.to_string(),
                    name: format!("{}, {}", d.family_name, d.given_name),
                    date_of_birth: d.date_of_birth.format("%Y-%m-%d").to_string(),
                    mrn: d.mrn,
                    reason: match_reason(d.kind).unwrap_or_default(),
                })
                .collect();
            let mut form = form;
            form.confirm_new = "1".into();
            let mut page = RegisterPage::new(form, Default::default(), candidates);
            page.shared_phone = by_phone.len();
            return Ok((StatusCode::CONFLICT, Page(page)).into_response());
        }
    }
    let self_managed = form.manages_own_care != "dependent";
    let (id, _mrn) = {
        let mut db = tx.conn().await?;
        repo::insert(
            &mut db,
            context.organization_id,
            &demographics,
            self_managed,
            &contacts,
            context.user_id,
        )
        .await?
    };
    let mut event = AuditEvent::success(Action::Create, "patient", id).patient(id).purpose("registration");
    event.details = json!({ "mrn_assigned": true, "first_contacts": contacts.mobile.is_some() as u8 + contacts.email.is_some() as u8, "duplicates_confirmed": !form.confirm_new.is_empty() });
    tx.audit(&event).await?;
    Ok(Redirect::to(&format!("/patients/{id}")).into_response())
}

async fn summary_section(tx: &TenantTx, chart: &Chart, notice: Option<String>) -> AppResult<SummarySection> {
    let can_see_schedule = chart.allows(tx, Permission::ViewSchedule);
    let (stored, visits) = {
        let mut db = tx.conn().await?;
        repo::summary(&mut db, chart.id(), can_see_schedule.then(|| tx.now())).await?
    };
    // A sensitive visit's type can say as much as its reason: the same people see it as
    // on the schedule (the patient's care-team providers).
    let policy = tx.context().policy(tx.now());
    let upcoming = visits
        .into_iter()
        .map(|a| {
            let facts = crate::auth::policy::PatientFacts { sensitive: a.sensitive, ..chart.facts };
            let open = crate::auth::policy::may_see_visit_reason(&policy, facts);
            UpcomingVisit {
                when: chart.local(a.starts_at),
                provider: a.provider,
                kind: if open || !a.sensitive { a.kind } else { "Visit".to_owned() },
                status: a.status.replace('_', " "),
            }
        })
        .collect();
    let s = stored;
    let address = [s.address_line1, s.address_line2, s.city, s.region, s.postal_code]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let mut facts = vec![
        Fact {
            label: "Legal name",
            value: [Some(s.given_name), s.middle_name, Some(s.family_name)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
        },
        Fact {
            label: "Date of birth",
            value: format!("{} (age {})", s.date_of_birth.format("%Y-%m-%d"), chart.header.age),
        },
        Fact { label: "Sex (legal)", value: sex_label(&s.legal_sex).to_owned() },
    ];
    let optional = [
        ("Preferred name", s.preferred_name),
        ("Gender identity", s.gender_identity),
        ("Preferred language", s.preferred_language),
        ("Address", (!address.is_empty()).then_some(address)),
    ];
    facts.extend(optional.into_iter().filter_map(|(label, value)| value.map(|value| Fact { label, value })));
    Ok(SummarySection {
        patient_id: chart.id().to_string(),
        notice,
        facts,
        can_edit: chart.allows(tx, Permission::EditDemographics),
        upcoming,
        can_see_schedule,
    })
}

/// The chart's summary (the patient summary page).
pub async fn summary(
    tx: TenantTx,
    Path(id): Path<String>,
) -> AppResult<Framed<chart::ChartFrame, SummarySection>> {
    let chart = chart::open(&tx, &id, Permission::ViewDemographics).await?;
    let section = summary_section(&tx, &chart, None).await?;
    tx.audit(
        &AuditEvent::success(Action::Read, "patient", chart.id())
            .patient(chart.id())
            .purpose("chart.summary"),
    )
    .await?;
    Ok(Framed(chart.frame(crate::patients::SECTION), section))
}

fn form_from(s: Demographics) -> PatientForm {
    let text = |v: Option<String>| v.unwrap_or_default();
    PatientForm {
        given_name: s.given_name,
        middle_name: text(s.middle_name),
        family_name: s.family_name,
        preferred_name: text(s.preferred_name),
        date_of_birth: s.date_of_birth.format("%Y-%m-%d").to_string(),
        legal_sex: s.legal_sex,
        gender_identity: text(s.gender_identity),
        preferred_language: text(s.preferred_language),
        address_line1: text(s.address_line1),
        address_line2: text(s.address_line2),
        city: text(s.city),
        region: text(s.region),
        postal_code: text(s.postal_code),
        confidential_communication: if s.confidential_communication { "1".into() } else { String::new() },
        confidential_note: text(s.confidential_note),
        ..PatientForm::default()
    }
}

pub async fn edit(tx: TenantTx, Path(id): Path<String>) -> AppResult<Framed<chart::ChartFrame, EditSection>> {
    let chart = chart::open(&tx, &id, Permission::EditDemographics).await?;
    let stored = {
        let mut db = tx.conn().await?;
        repo::demographics(&mut db, chart.id()).await?
    };
    tx.audit(
        &AuditEvent::success(Action::Read, "patient", chart.id())
            .patient(chart.id())
            .purpose("chart.demographics"),
    )
    .await?;
    let section = EditSection {
        patient_id: chart.id().to_string(),
        can_remove: chart.allows(&tx, Permission::RemovePatient),
        form: form_from(stored),
        errors: Default::default(),
        sexes: SEXES,
    };
    Ok(Framed(chart.frame(crate::patients::SECTION), section))
}

pub async fn update(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::EditDemographics).await?;
    let form: PatientForm = parse_form(&body)?;
    let demographics = match form.validate(tx.now().date_naive()) {
        Ok(d) => d,
        Err(errors) => {
            let section = EditSection {
                patient_id: chart.id().to_string(),
                can_remove: chart.allows(&tx, Permission::RemovePatient),
                form,
                errors: *errors,
                sexes: SEXES,
            };
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Framed(chart.frame(crate::patients::SECTION), section),
            )
                .into_response());
        }
    };
    {
        let mut db = tx.conn().await?;
        let may_lift = chart.allows(&tx, Permission::EditContactSafety);
        repo::update(&mut db, chart.id(), &demographics, may_lift).await?;
    }
    tx.audit(
        &AuditEvent::success(Action::Update, "patient", chart.id())
            .patient(chart.id())
            .purpose("chart.demographics"),
    )
    .await?;
    // The header (name, age, banner) may have changed: reopen the chart for the page.
    let chart = chart::open(&tx, &id, Permission::EditDemographics).await?;
    let section = summary_section(&tx, &chart, Some("Demographics saved.".into())).await?;
    Ok(Framed(chart.frame(crate::patients::SECTION), section).into_response())
}

/// `GET /patients/{id}/remove`: what taking the patient out of the registry will do
/// (visits cancelled, proxies' access ended), with a reason to give and a box to tick.
pub async fn remove_page(
    tx: TenantTx,
    Path(id): Path<String>,
) -> AppResult<Framed<chart::ChartFrame, RemoveSection>> {
    let chart = chart::open(&tx, &id, Permission::RemovePatient).await?;
    let section = remove_section(&tx, &chart, RemoveForm::default()).await?;
    tx.audit(
        &AuditEvent::success(Action::Read, "patient", chart.id())
            .patient(chart.id())
            .purpose("registry.remove"),
    )
    .await?;
    Ok(Framed(chart.frame(crate::patients::SECTION), section))
}

async fn remove_section(tx: &TenantTx, chart: &Chart, form: RemoveForm) -> AppResult<RemoveSection> {
    let reach = repo::removal_reach(&mut *tx.conn().await?, chart.id(), tx.now()).await?;
    Ok(RemoveSection {
        patient_id: chart.id().to_string(),
        name: chart.header.display_name(),
        upcoming_visits: reach.upcoming_visits,
        proxy_grants: reach.proxy_grants,
        undo_days: REMOVAL_UNDO_DAYS,
        form,
        reason_error: None,
        confirm_error: None,
    })
}

/// `POST /patients/{id}/remove`: takes the patient out of the registry (soft delete: the
/// record, its history and audit trail stay), once a reason is given and the box ticked;
/// otherwise the page comes back with the reason as typed.
pub async fn remove(
    tx: TenantTx,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RemovePatient).await?;
    let form: RemoveForm = parse_form(&body)?;
    let reason = removal_reason(&form.reason).map(str::to_owned);
    let confirmed = !form.confirm.is_empty();
    let (Ok(reason), true) = (&reason, confirmed) else {
        let mut section = remove_section(&tx, &chart, form).await?;
        section.reason_error = reason.err().map(str::to_owned);
        section.confirm_error = (!confirmed).then(|| "Tick the box to confirm the removal.".to_owned());
        // The page shows the patient again: on record like the first showing.
        tx.audit(
            &AuditEvent::success(Action::Read, "patient", chart.id())
                .patient(chart.id())
                .purpose("registry.remove"),
        )
        .await?;
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Framed(chart.frame(crate::patients::SECTION), section),
        )
            .into_response());
    };
    let by = tx.context().tenant.person();
    let removed = repo::soft_delete(&mut *tx.conn().await?, chart.id(), by, reason, tx.now()).await?;
    let Some(reach) = removed else { return Err(tx.not_found("patient", chart.id().as_uuid()).await) };
    tx.audit(
        &AuditEvent::success(Action::Delete, "patient", chart.id())
            .patient(chart.id())
            .purpose("registry.remove")
            .details(json!({
                "reason_given": true,
                "visits_cancelled": reach.upcoming_visits,
                "proxy_grants_ended": reach.proxy_grants,
            })),
    )
    .await?;
    // Sent by htmx from inside the chart, the whole page changes: a success with
    // HX-Redirect (a redirect status would be followed inside the chart section).
    if headers.contains_key(axum_htmx::HX_REQUEST) {
        return Ok(([(axum_htmx::HX_REDIRECT, "/patients/removed")], StatusCode::OK).into_response());
    }
    Ok(Redirect::to("/patients/removed").into_response())
}

/// `GET /patients/removed`: who was taken out of the registry in the last
/// [`REMOVAL_UNDO_DAYS`] days, by whom and why, each with "Put back".
pub async fn removed(tx: TenantTx) -> AppResult<Page<RemovedPage>> {
    removed_page(&tx, None).await.map(Page)
}

async fn removed_page(tx: &TenantTx, notice: Option<String>) -> AppResult<RemovedPage> {
    tx.authorize(Permission::RemovePatient, Target::Organization, "patient").await?;
    let since = tx.now() - chrono::TimeDelta::days(REMOVAL_UNDO_DAYS);
    let rows = repo::removed_since(&mut *tx.conn().await?, since).await?;
    // A list naming patients: one read event, saying whose.
    let mut event = AuditEvent::new(Action::Read, Outcome::Success).purpose("registry.removed");
    event.resource_type = Some("patient");
    event.details = json!({ "count": rows.len(), "patient_ids": crate::audit::shown_patients(rows.iter().map(|r| r.id)) });
    tx.audit(&event).await?;
    let zone = tx.context().timezone;
    Ok(RemovedPage {
        rows: rows
            .into_iter()
            .map(|r| RemovedRow {
                id: r.id.to_string(),
                name: format!("{} {}", r.given_name, r.family_name),
                mrn: r.mrn,
                date_of_birth: r.date_of_birth.format("%Y-%m-%d").to_string(),
                removed: r.deleted_at.with_timezone(&zone).format("%b %-d, %H:%M").to_string(),
                removed_by: r.removed_by.unwrap_or_default(),
                reason: r.reason.unwrap_or_default(),
            })
            .collect(),
        undo_days: REMOVAL_UNDO_DAYS,
        notice,
    })
}

/// `POST /patients/removed/{id}/restore`: puts a recently removed patient back on the
/// registry, then opens their chart. Visits cancelled and access ended at the removal stay
/// so (the page says it).
pub async fn restore(tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    tx.authorize(Permission::RemovePatient, Target::Organization, "patient").await?;
    let patient: PatientId = id.parse().map_err(|_| crate::web::AppError::NotFound)?;
    let since = tx.now() - chrono::TimeDelta::days(REMOVAL_UNDO_DAYS);
    if !repo::restore(&mut *tx.conn().await?, patient, since).await? {
        return Err(tx.not_found("patient", patient.as_uuid()).await);
    }
    tx.audit(
        &AuditEvent::success(Action::Update, "patient", patient).patient(patient).purpose("registry.restore"),
    )
    .await?;
    Ok(Redirect::to(&format!("/patients/{patient}")).into_response())
}
