use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use axum_htmx::{HX_RESWAP, HX_RETARGET};

use super::repo::{self, StoredNote};
use super::views::{
    Addendum, AddendumFormFragment, CATEGORIES, DraftStatus, FieldsSent, NoteErrors, NoteForm,
    NoteFormSection, NoteRow, NoteSection, NotesSection, category_label,
};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::Permission;
use crate::chart::{self, Chart, ChartFrame};
use crate::db::ids::{ClinicalNoteId, NoteAddendumId};
use crate::web::{AppError, AppResult, Framed, Page, TenantTx, parse_form};

fn when(at: DateTime<Utc>, chart: &Chart) -> String {
    chart.local(at)
}

fn event(chart: &Chart, action: Action, note: Option<ClinicalNoteId>) -> AuditEvent {
    let event = match note {
        Some(id) => AuditEvent::success(action, "clinical_note", id),
        None => AuditEvent::success(action, "patient", chart.id()),
    };
    event.patient(chart.id()).purpose("chart.notes")
}

async fn render_list(tx: &TenantTx, chart: &Chart, notice: Option<String>) -> AppResult<NotesSection> {
    let rows = repo::list(&mut *tx.conn().await?, chart.id()).await?;
    // A sensitive note is left out entirely for anyone the policy hides it from: not
    // its text, not its title, not that it exists.
    let may_list_sensitive = chart.allows_for(tx, Permission::ViewNoteList, true);
    // A title says what the visit was about: it is part of the note, for those who may
    // read notes. The front desk sees that a note exists, its date, author and state.
    let may_read = chart.allows(tx, Permission::ReadNoteBody);
    let me = tx.context().tenant.person();
    let notes = rows
        .into_iter()
        .filter(|n| n.sensitive_category.is_none() || may_list_sensitive)
        .map(|n| {
            // Someone else's draft is theirs until signed: listed (so nobody starts a
            // second note for the same visit), never opened or titled.
            let openable = may_read && (n.status == "signed" || me == Some(n.author_id));
            NoteRow {
                id: n.id.to_string(),
                openable,
                title: if openable { n.title } else { "Clinical note".to_owned() },
                author: n.author,
                when: when(n.signed_at.unwrap_or(n.created_at), chart),
                signed: n.status == "signed",
                category: n.sensitive_category.as_deref().map(category_label),
            }
        })
        .collect();
    Ok(NotesSection {
        patient_id: chart.id().to_string(),
        notes,
        can_read: may_read,
        can_write: chart.allows(tx, Permission::WriteNote),
        notice,
    })
}

pub async fn list(tx: TenantTx, Path(id): Path<String>) -> AppResult<Framed<ChartFrame, NotesSection>> {
    let chart = chart::open(&tx, &id, Permission::ViewNoteList).await?;
    let section = render_list(&tx, &chart, None).await?;
    tx.audit(&event(&chart, Action::Read, None).details(json!({ "notes_listed": section.notes.len() })))
        .await?;
    Ok(Framed(chart.frame(crate::notes::SECTION), section))
}

/// The visits a note on this chart may document, as the form offers them.
async fn visit_options(tx: &TenantTx, chart: &Chart) -> AppResult<Vec<(String, String)>> {
    let visits = repo::visits(&mut *tx.conn().await?, chart.id(), tx.now()).await?;
    Ok(visits
        .into_iter()
        .map(|v| (v.id.to_string(), visit_label(chart, v.starts_at, &v.kind, &v.provider)))
        .collect())
}

fn visit_label(chart: &Chart, starts_at: DateTime<Utc>, kind: &str, provider: &str) -> String {
    let at = starts_at.with_timezone(&chart.timezone).format("%a %Y-%m-%d %H:%M");
    format!("{at} \u{b7} {kind} with {provider}")
}

async fn form_section(
    chart: &Chart,
    tx: &TenantTx,
    note_id: ClinicalNoteId,
    saved: bool,
    form: NoteForm,
    errors: NoteErrors,
) -> AppResult<NoteFormSection> {
    Ok(NoteFormSection {
        visits: visit_options(tx, chart).await?,
        patient_id: chart.id().to_string(),
        note_id: note_id.to_string(),
        saved,
        saved_at: None,
        form,
        errors,
        categories: CATEGORIES,
        may_mark_sensitive: chart.allows_for(tx, Permission::WriteNote, true),
        notice: None,
    })
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct NewNoteQuery {
    /// The visit to document (from the visit's page).
    visit: String,
}

pub(crate) async fn new_note(
    tx: TenantTx,
    Path(id): Path<String>,
    Query(query): Query<NewNoteQuery>,
) -> AppResult<Framed<ChartFrame, NoteFormSection>> {
    let chart = chart::open(&tx, &id, Permission::WriteNote).await?;
    // Only one of this patient's visits is chosen beforehand; anything else is ignored.
    let form = NoteForm { visit: query.visit, ..NoteForm::default() };
    // Opening the form shows the chart header (PHI).
    tx.audit(&event(&chart, Action::Read, None)).await?;
    // The draft's id is chosen now: whichever save comes first creates the note under it.
    let draft = ClinicalNoteId::new();
    Ok(Framed(
        chart.frame(crate::notes::SECTION),
        form_section(&chart, &tx, draft, false, form, NoteErrors::default()).await?,
    ))
}

/// The limits every save checks, complete or not: lengths and a known category.
fn check_limits(form: &NoteForm, errors: &mut NoteErrors) {
    if form.title.trim().chars().count() > 200 {
        errors.title = Some("A title can be at most 200 characters.".into());
    }
    let parts = [&form.subjective, &form.objective, &form.assessment, &form.plan];
    if parts.iter().any(|p| p.chars().count() > 20_000) {
        errors.body = Some("Each part can be at most 20,000 characters.".into());
    }
    if !form.sensitive_category.is_empty() && !CATEGORIES.iter().any(|(v, _)| *v == form.sensitive_category) {
        errors.category = Some("Choose a category from the list.".into());
    }
}

/// Checks a note the clinician saves on purpose or signs: a title and some text.
fn validate(form: &NoteForm) -> NoteErrors {
    let mut errors = NoteErrors::default();
    check_limits(form, &mut errors);
    let title = form.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        errors.title = Some(
            "Give the note a title (up to 200 characters), such as \u{201c}Follow-up visit\u{201d}.".into(),
        );
    }
    let parts = [&form.subjective, &form.objective, &form.assessment, &form.plan];
    if errors.body.is_none() && parts.iter().all(|p| p.trim().is_empty()) {
        errors.body = Some("Write at least one of subjective, objective, assessment or plan.".into());
    }
    errors
}

fn category(form: &NoteForm) -> Option<&str> {
    (!form.sensitive_category.is_empty()).then_some(form.sensitive_category.as_str())
}

/// What an autosave stores as the title while the clinician has not typed one yet (the
/// database requires one); the form shows the field empty again until they do.
const UNTITLED: &str = "Untitled draft";

/// How a save went.
enum Saved {
    Created,
    Updated,
}

/// Saves `form` as the asking author's draft `id` on this chart: the first save creates
/// it, later ones update it. Refused when `id` is another person's note, a signed note, or
/// on another chart; a sensitive category is the care team's to set.
async fn save_draft(tx: &TenantTx, chart: &Chart, id: ClinicalNoteId, form: &NoteForm) -> AppResult<Saved> {
    let author = tx.context().tenant.person().ok_or(AppError::Forbidden)?;
    let existing = repo::owner(&mut *tx.conn().await?, id).await?;
    if let Some(existing) = &existing {
        if existing.patient_id != chart.id().as_uuid() {
            return Err(tx.not_found("clinical_note", id.as_uuid()).await);
        }
        chart.authorize(tx, Permission::WriteNote, existing.sensitive_category.is_some()).await?;
        if existing.author != author || existing.status != "draft" {
            return Err(AppError::BadRequest(
                "Only the author can change a draft, and a signed note cannot be changed: add an addendum."
                    .into(),
            ));
        }
    }
    if category(form).is_some() {
        chart.authorize(tx, Permission::WriteNote, true).await?;
    }
    // The visit must be one of this patient's that the form offers.
    let appointment = match form.visit.trim() {
        "" => None,
        visit => {
            let offered = repo::visits(&mut *tx.conn().await?, chart.id(), tx.now()).await?;
            let chosen = offered.into_iter().find(|v| v.id.to_string() == visit).map(|v| v.id);
            Some(chosen.ok_or_else(|| AppError::BadRequest("Choose the visit from the list.".into()))?)
        }
    };
    let title = match form.title.trim() {
        "" => UNTITLED,
        title => title,
    };
    let draft = repo::Draft {
        clinic: tx.context().tenant.organization_id,
        id,
        patient: chart.id(),
        author,
        title,
        subjective: &form.subjective,
        objective: &form.objective,
        assessment: &form.assessment,
        plan: &form.plan,
        sensitive_category: category(form),
        appointment,
    };
    let created = repo::save_draft(&mut *tx.conn().await?, &draft).await?;
    let Some(created) = created else {
        return Err(AppError::BadRequest(
            "This note was signed or changed meanwhile. Reload it to see it.".into(),
        ));
    };
    let (action, saved) =
        if created { (Action::Create, Saved::Created) } else { (Action::Update, Saved::Updated) };
    tx.audit(&event(chart, action, Some(id)).details(json!({ "sensitive": category(form).is_some() })))
        .await?;
    Ok(saved)
}

/// The form as it came, with the placeholder title shown empty again.
fn as_typed(mut form: NoteForm) -> NoteForm {
    if form.title.trim() == UNTITLED {
        form.title.clear();
    }
    form
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct DraftId {
    draft_id: String,
}

/// The plain form's "create" (and the address older pages post to): saved under the id
/// the form was opened with, so a double click saves one note, not two.
pub async fn create(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::WriteNote).await?;
    let form: NoteForm = parse_form(&body)?;
    let draft: DraftId = parse_form(&body)?;
    let note = draft.draft_id.parse().unwrap_or_else(|_| ClinicalNoteId::new());
    let errors = validate(&form);
    if errors.any() {
        let section = form_section(&chart, &tx, note, false, form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Framed(chart.frame(crate::notes::SECTION), section))
            .into_response());
    }
    save_draft(&tx, &chart, note, &form).await?;
    Ok(Redirect::to(&format!("/patients/{}/notes/{note}", chart.id())).into_response())
}

/// The note, visible to this context for `permission` (404 otherwise, audited; a
/// sensitive note the context may not read looks absent).
async fn note(tx: &TenantTx, chart: &Chart, note_id: &str, permission: Permission) -> AppResult<StoredNote> {
    note_for(tx, chart, draft_id(note_id)?, permission).await
}

async fn note_for(
    tx: &TenantTx,
    chart: &Chart,
    id: ClinicalNoteId,
    permission: Permission,
) -> AppResult<StoredNote> {
    let row = repo::find(&mut *tx.conn().await?, id, chart.id()).await?;
    let Some(row) = row else { return Err(tx.not_found("clinical_note", id.as_uuid()).await) };
    chart.authorize(tx, permission, row.sensitive_category.is_some()).await?;
    Ok(row)
}

async fn render_note(
    tx: &TenantTx,
    chart: &Chart,
    note: StoredNote,
    addendum: (String, Option<String>),
    notice: Option<String>,
) -> AppResult<NoteSection> {
    let addenda = repo::addenda(&mut *tx.conn().await?, note.id).await?;
    let me = tx.context().tenant.person();
    let is_author = me == Some(note.author);
    let signed = note.signed_at.is_some();
    let may_write = chart.allows_for(tx, Permission::WriteNote, note.sensitive_category.is_some());
    Ok(NoteSection {
        patient_id: chart.id().to_string(),
        note_id: note.id.to_string(),
        title: note.title,
        author: note.author_name,
        created: when(note.created_at, chart),
        signed: note.signed_at.map(|at| when(at, chart)),
        category: note.sensitive_category.as_deref().map(category_label),
        visit: note.appointment_id.zip(note.visit_starts_at).map(|(id, at)| {
            let kind = note.visit_kind.as_deref().unwrap_or("Visit");
            let provider = note.visit_provider.as_deref().unwrap_or("");
            (id.to_string(), visit_label(chart, at, kind, provider))
        }),
        parts: vec![
            ("Subjective", note.subjective),
            ("Objective", note.objective),
            ("Assessment", note.assessment),
            ("Plan", note.plan),
        ],
        addenda: addenda
            .into_iter()
            .map(|a| Addendum { author: a.author, when: when(a.created_at, chart), body: a.body })
            .collect(),
        can_sign: !signed && is_author && may_write,
        can_add_addendum: signed && may_write,
        addendum_text: addendum.0,
        addendum_error: addendum.1,
        notice,
    })
}

pub async fn show(tx: TenantTx, Path((id, note_id)): Path<(String, String)>) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::ReadNoteBody).await?;
    let found = note(&tx, &chart, &note_id, Permission::ReadNoteBody).await?;
    // A draft is its author's until it is signed: to anyone else it is not there yet.
    let is_author = tx.context().tenant.person() == Some(found.author);
    if found.signed_at.is_none() && !is_author {
        return Err(tx.not_found("clinical_note", found.id.as_uuid()).await);
    }
    tx.audit(&event(&chart, Action::Read, Some(found.id))).await?;
    // The author continues a draft in the form.
    if found.signed_at.is_none() {
        let form = as_typed(NoteForm {
            title: found.title.clone(),
            subjective: found.subjective.clone(),
            objective: found.objective.clone(),
            assessment: found.assessment.clone(),
            plan: found.plan.clone(),
            sensitive_category: found.sensitive_category.clone().unwrap_or_default(),
            visit: found.appointment_id.map(|a| a.to_string()).unwrap_or_default(),
        });
        let draft = form_section(&chart, &tx, found.id, true, form, NoteErrors::default()).await?;
        return Ok(Framed(chart.frame(crate::notes::SECTION), draft).into_response());
    }
    let section = render_note(&tx, &chart, found, (String::new(), None), None).await?;
    Ok(Framed(chart.frame(crate::notes::SECTION), section).into_response())
}

/// The draft's id from the address (a malformed one is no note: 404).
fn draft_id(note_id: &str) -> AppResult<ClinicalNoteId> {
    note_id.parse().map_err(|_| AppError::NotFound)
}

/// "Save draft" without script: saves what was typed once it is complete enough to keep.
pub async fn update(
    tx: TenantTx,
    Path((id, note_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::WriteNote).await?;
    let note = draft_id(&note_id)?;
    existing_unless_fields_sent(&tx, &chart, note, &body).await?;
    let form: NoteForm = parse_form(&body)?;
    let errors = validate(&form);
    if errors.any() {
        let section = form_section(&chart, &tx, note, true, form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Framed(chart.frame(crate::notes::SECTION), section))
            .into_response());
    }
    save_draft(&tx, &chart, note, &form).await?;
    let mut section = form_section(&chart, &tx, note, true, form, NoteErrors::default()).await?;
    section.saved_at = Some(saved_at(&tx, &chart));
    section.notice = Some("Draft saved. Sign it when it is complete.".into());
    Ok(Framed(chart.frame(crate::notes::SECTION), section).into_response())
}

/// A save that carries the draft form's fields may create the draft under the id the form
/// was opened with; a post without them names a note, which must exist (404 otherwise,
/// like every address naming an object).
async fn existing_unless_fields_sent(
    tx: &TenantTx,
    chart: &Chart,
    note: ClinicalNoteId,
    body: &[u8],
) -> AppResult<()> {
    let sent: FieldsSent = parse_form(body)?;
    if sent.title.is_none() {
        note_for(tx, chart, note, Permission::WriteNote).await?;
    }
    Ok(())
}

fn saved_at(tx: &TenantTx, chart: &Chart) -> String {
    tx.now().with_timezone(&chart.timezone).format("%H:%M").to_string()
}

/// The draft form saving itself while the clinician types: whatever is there is kept,
/// complete or not (only the limits apply), and the answer is the status line alone so
/// nothing being typed is replaced.
pub(crate) async fn autosave(
    tx: TenantTx,
    Path((id, note_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::WriteNote).await?;
    let note = draft_id(&note_id)?;
    existing_unless_fields_sent(&tx, &chart, note, &body).await?;
    let form: NoteForm = parse_form(&body)?;
    let mut errors = NoteErrors::default();
    check_limits(&form, &mut errors);
    let problem = errors.title.or(errors.body).or(errors.category);
    if let Some(problem) = problem {
        let status = DraftStatus { saved_at: None, problem: Some(problem) };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(status)).into_response());
    }
    save_draft(&tx, &chart, note, &form).await?;
    Ok(Page(DraftStatus { saved_at: Some(saved_at(&tx, &chart)), problem: None }).into_response())
}

/// Signs the author's draft. The form's fields come along: what is on the screen is saved
/// first and signed in the same transaction, or, when it is not complete, nothing is
/// signed and the form comes back with every word and the reason.
pub async fn sign(
    tx: TenantTx,
    Path((id, note_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::WriteNote).await?;
    let note = draft_id(&note_id)?;
    let sent: FieldsSent = parse_form(&body)?;
    if sent.title.is_some() {
        let form: NoteForm = parse_form(&body)?;
        let errors = validate(&form);
        if errors.any() {
            let mut section = form_section(&chart, &tx, note, true, form, errors).await?;
            section.notice = Some(
                "Not signed yet: the note needs the corrections below. Nothing you typed was lost.".into(),
            );
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Framed(chart.frame(crate::notes::SECTION), section),
            )
                .into_response());
        }
        save_draft(&tx, &chart, note, &form).await?;
    }
    let found = note_for(&tx, &chart, note, Permission::WriteNote).await?;
    let me = tx.context().tenant.person().ok_or(AppError::Forbidden)?;
    if found.author != me {
        return Err(AppError::BadRequest("Only the note's author can sign it.".into()));
    }
    if found.title == UNTITLED && sent.title.is_none() {
        return Err(AppError::BadRequest("Give the note a title before signing it.".into()));
    }
    let signed = repo::sign(&mut *tx.conn().await?, found.id, me, tx.now()).await?;
    if !signed {
        return Err(AppError::BadRequest("This note is already signed.".into()));
    }
    tx.audit(&event(&chart, Action::Update, Some(found.id)).details(json!({ "signed": true }))).await?;
    let found = note_for(&tx, &chart, note, Permission::ReadNoteBody).await?;
    let section = render_note(
        &tx,
        &chart,
        found,
        (String::new(), None),
        Some("Signed. The note is now final; corrections are addenda.".into()),
    )
    .await?;
    Ok(Framed(chart.frame(crate::notes::SECTION), section).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct AddendumForm {
    body: String,
}

pub(crate) async fn add_addendum(
    tx: TenantTx,
    Path((id, note_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::WriteNote).await?;
    let found = note(&tx, &chart, &note_id, Permission::WriteNote).await?;
    let form: AddendumForm = parse_form(&body)?;
    let text = form.body.trim();
    let problem = if found.signed_at.is_none() {
        Some("A draft is edited, not amended. Sign it first.")
    } else if text.is_empty() {
        Some("Write the addendum.")
    } else if text.chars().count() > 20_000 {
        Some("An addendum can be at most 20,000 characters.")
    } else {
        None
    };
    if let Some(message) = problem {
        let fragment = AddendumFormFragment {
            patient_id: chart.id().to_string(),
            note_id: found.id.to_string(),
            can_add_addendum: true,
            addendum_text: form.body.clone(),
            addendum_error: Some(message.into()),
        };
        // htmx puts the corrected form in place of the form (not the whole section).
        let retarget = [(HX_RETARGET, "#addendum-form"), (HX_RESWAP, "outerHTML")];
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            retarget,
            Framed(chart.frame(crate::notes::SECTION), fragment),
        )
            .into_response());
    }
    let author = tx.context().tenant.person().ok_or(AppError::Forbidden)?;
    let addendum = NoteAddendumId::new();
    let clinic = tx.context().tenant.organization_id;
    repo::add_addendum(&mut *tx.conn().await?, clinic, addendum, found.id, author, text).await?;
    tx.audit(
        &event(&chart, Action::Create, Some(found.id))
            .details(json!({ "addendum_id": addendum.to_string() })),
    )
    .await?;
    let found = note(&tx, &chart, &note_id, Permission::ReadNoteBody).await?;
    let section =
        render_note(&tx, &chart, found, (String::new(), None), Some("Addendum added.".into())).await?;
    Ok(Framed(chart.frame(crate::notes::SECTION), section).into_response())
}
