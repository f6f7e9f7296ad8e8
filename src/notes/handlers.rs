use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use axum_htmx::{HX_RESWAP, HX_RETARGET};

use super::views::{
    Addendum, AddendumFormFragment, CATEGORIES, NoteErrors, NoteForm, NoteFormSection, NoteRow, NoteSection,
    NotesSection, category_label,
};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::Permission;
use crate::chart::{self, Chart, ChartFrame};
use crate::db::ids::{ClinicalNoteId, NoteAddendumId, UserId};
use crate::web::{AppError, AppResult, Framed, TenantTx, parse_form};

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
    let rows = {
        let mut db = tx.conn().await?;
        sqlx::query!(
            r#"SELECT n.id AS "id: ClinicalNoteId", n.title, n.status, n.sensitive_category, n.created_at, n.signed_at,
                      u.display_name AS author
                 FROM clinical_notes n JOIN users u ON u.id = n.author_user_id
                WHERE n.patient_id = $1 AND n.deleted_at IS NULL
                ORDER BY n.created_at DESC"#,
            chart.id().as_uuid()
        )
        .fetch_all(&mut *db)
        .await?
    };
    // A sensitive note is left out entirely for anyone the policy hides it from: not
    // its text, not its title, not that it exists.
    let may_list_sensitive = chart.allows_for(tx, Permission::ViewNoteList, true);
    // A title says what the visit was about: it is part of the note, for those who may
    // read notes. The front desk sees that a note exists, its date, author and state.
    let may_read = chart.allows(tx, Permission::ReadNoteBody);
    let notes = rows
        .into_iter()
        .filter(|n| n.sensitive_category.is_none() || may_list_sensitive)
        .map(|n| NoteRow {
            id: n.id.to_string(),
            title: if may_read { n.title } else { "Clinical note".to_owned() },
            author: n.author,
            when: when(n.signed_at.unwrap_or(n.created_at), chart),
            signed: n.status == "signed",
            category: n.sensitive_category.as_deref().map(category_label),
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
    Ok(Framed(chart.frame("notes"), section))
}

fn form_section(
    chart: &Chart,
    tx: &TenantTx,
    note_id: Option<String>,
    form: NoteForm,
    errors: NoteErrors,
) -> NoteFormSection {
    NoteFormSection {
        patient_id: chart.id().to_string(),
        note_id,
        form,
        errors,
        categories: CATEGORIES,
        may_mark_sensitive: chart.allows_for(tx, Permission::WriteNote, true),
        notice: None,
    }
}

pub(crate) async fn new_note(
    tx: TenantTx,
    Path(id): Path<String>,
) -> AppResult<Framed<ChartFrame, NoteFormSection>> {
    let chart = chart::open(&tx, &id, Permission::WriteNote).await?;
    // Opening the form shows the chart header (PHI).
    tx.audit(&event(&chart, Action::Read, None)).await?;
    Ok(Framed(
        chart.frame("notes"),
        form_section(&chart, &tx, None, NoteForm::default(), NoteErrors::default()),
    ))
}

/// Checks a note form; the category must be one we know (or none).
fn validate(form: &NoteForm) -> NoteErrors {
    let mut errors = NoteErrors::default();
    let title = form.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        errors.title = Some(
            "Give the note a title (up to 200 characters), such as \u{201c}Follow-up visit\u{201d}.".into(),
        );
    }
    let parts = [&form.subjective, &form.objective, &form.assessment, &form.plan];
    if parts.iter().all(|p| p.trim().is_empty()) {
        errors.body = Some("Write at least one of subjective, objective, assessment or plan.".into());
    } else if parts.iter().any(|p| p.chars().count() > 20_000) {
        errors.body = Some("Each part can be at most 20,000 characters.".into());
    }
    if !form.sensitive_category.is_empty() && !CATEGORIES.iter().any(|(v, _)| *v == form.sensitive_category) {
        errors.category = Some("Choose a category from the list.".into());
    }
    errors
}

fn category(form: &NoteForm) -> Option<&str> {
    (!form.sensitive_category.is_empty()).then_some(form.sensitive_category.as_str())
}

pub async fn create(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::WriteNote).await?;
    let form: NoteForm = parse_form(&body)?;
    let errors = validate(&form);
    if errors.any() {
        let section = form_section(&chart, &tx, None, form, errors);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Framed(chart.frame("notes"), section)).into_response());
    }
    if category(&form).is_some() {
        chart.authorize(&tx, Permission::WriteNote, true).await?;
    }
    let author = tx.context().tenant.user_id.ok_or(AppError::Forbidden)?;
    let note = ClinicalNoteId::new();
    {
        let mut db = tx.conn().await?;
        sqlx::query!(
            "INSERT INTO clinical_notes (organization_id, id, patient_id, author_user_id, title, subjective, objective,
                                         assessment, plan, sensitive_category)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            tx.context().tenant.organization_id.as_uuid(),
            note.as_uuid(),
            chart.id().as_uuid(),
            author.as_uuid(),
            form.title.trim(),
            form.subjective,
            form.objective,
            form.assessment,
            form.plan,
            category(&form)
        )
        .execute(&mut *db)
        .await?;
    }
    tx.audit(
        &event(&chart, Action::Create, Some(note)).details(json!({ "sensitive": category(&form).is_some() })),
    )
    .await?;
    Ok(Redirect::to(&format!("/patients/{}/notes/{note}", chart.id())).into_response())
}

struct StoredNote {
    id: ClinicalNoteId,
    author: UserId,
    author_name: String,
    title: String,
    subjective: String,
    objective: String,
    assessment: String,
    plan: String,
    sensitive_category: Option<String>,
    signed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// The note, visible to this context for `permission` (404 otherwise, audited; a
/// sensitive note the context may not read looks absent).
async fn note(tx: &TenantTx, chart: &Chart, note_id: &str, permission: Permission) -> AppResult<StoredNote> {
    let id: ClinicalNoteId = note_id.parse().map_err(|_| AppError::NotFound)?;
    let row = {
        let mut db = tx.conn().await?;
        sqlx::query_as!(
            StoredNote,
            r#"SELECT n.id AS "id: ClinicalNoteId", n.author_user_id AS "author: UserId", u.display_name AS author_name,
                      n.title, n.subjective, n.objective, n.assessment, n.plan, n.sensitive_category, n.signed_at, n.created_at
                 FROM clinical_notes n JOIN users u ON u.id = n.author_user_id
                WHERE n.id = $1 AND n.patient_id = $2 AND n.deleted_at IS NULL"#,
            id.as_uuid(),
            chart.id().as_uuid()
        )
        .fetch_optional(&mut *db)
        .await?
    };
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
    let addenda = {
        let mut db = tx.conn().await?;
        sqlx::query!(
            r#"SELECT a.id AS "id: NoteAddendumId", a.body, a.created_at, u.display_name AS author
                 FROM clinical_note_addenda a JOIN users u ON u.id = a.author_user_id
                WHERE a.note_id = $1 ORDER BY a.created_at"#,
            note.id.as_uuid()
        )
        .fetch_all(&mut *db)
        .await?
    };
    let me = tx.context().tenant.user_id;
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
    tx.audit(&event(&chart, Action::Read, Some(found.id))).await?;
    // The author continues a draft in the form.
    if found.signed_at.is_none() && tx.context().tenant.user_id == Some(found.author) {
        let form = NoteForm {
            title: found.title.clone(),
            subjective: found.subjective.clone(),
            objective: found.objective.clone(),
            assessment: found.assessment.clone(),
            plan: found.plan.clone(),
            sensitive_category: found.sensitive_category.clone().unwrap_or_default(),
        };
        let draft = form_section(&chart, &tx, Some(found.id.to_string()), form, NoteErrors::default());
        return Ok(Framed(chart.frame("notes"), draft).into_response());
    }
    let section = render_note(&tx, &chart, found, (String::new(), None), None).await?;
    Ok(Framed(chart.frame("notes"), section).into_response())
}

/// Saves a draft. Only its author, only while it is a draft (the database refuses any
/// change to a signed note whatever asks).
pub async fn update(
    tx: TenantTx,
    Path((id, note_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::WriteNote).await?;
    let found = note(&tx, &chart, &note_id, Permission::WriteNote).await?;
    if tx.context().tenant.user_id != Some(found.author) || found.signed_at.is_some() {
        return Err(AppError::BadRequest(
            "Only the author can change a draft, and a signed note cannot be changed: add an addendum."
                .into(),
        ));
    }
    let form: NoteForm = parse_form(&body)?;
    let errors = validate(&form);
    if errors.any() {
        let section = form_section(&chart, &tx, Some(found.id.to_string()), form, errors);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Framed(chart.frame("notes"), section)).into_response());
    }
    if category(&form).is_some() {
        chart.authorize(&tx, Permission::WriteNote, true).await?;
    }
    {
        let mut db = tx.conn().await?;
        sqlx::query!(
            "UPDATE clinical_notes SET title = $2, subjective = $3, objective = $4, assessment = $5, plan = $6,
                    sensitive_category = $7
              WHERE id = $1 AND status = 'draft'",
            found.id.as_uuid(),
            form.title.trim(),
            form.subjective,
            form.objective,
            form.assessment,
            form.plan,
            category(&form)
        )
        .execute(&mut *db)
        .await?;
    }
    tx.audit(&event(&chart, Action::Update, Some(found.id))).await?;
    let mut section = form_section(&chart, &tx, Some(found.id.to_string()), form, NoteErrors::default());
    section.notice = Some("Draft saved. Sign it when it is complete.".into());
    Ok(Framed(chart.frame("notes"), section).into_response())
}

pub async fn sign(tx: TenantTx, Path((id, note_id)): Path<(String, String)>) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::WriteNote).await?;
    let found = note(&tx, &chart, &note_id, Permission::WriteNote).await?;
    let me = tx.context().tenant.user_id.ok_or(AppError::Forbidden)?;
    if found.author != me {
        return Err(AppError::BadRequest("Only the note's author can sign it.".into()));
    }
    let signed = {
        let mut db = tx.conn().await?;
        sqlx::query!(
            "UPDATE clinical_notes SET status = 'signed', signed_at = $2, signed_by = $3 WHERE id = $1 AND status = 'draft'",
            found.id.as_uuid(),
            tx.now(),
            me.as_uuid()
        )
        .execute(&mut *db)
        .await?
        .rows_affected()
    };
    if signed == 0 {
        return Err(AppError::BadRequest("This note is already signed.".into()));
    }
    tx.audit(&event(&chart, Action::Update, Some(found.id)).details(json!({ "signed": true }))).await?;
    let found = note(&tx, &chart, &note_id, Permission::ReadNoteBody).await?;
    let section = render_note(
        &tx,
        &chart,
        found,
        (String::new(), None),
        Some("Signed. The note is now final; corrections are addenda.".into()),
    )
    .await?;
    Ok(Framed(chart.frame("notes"), section).into_response())
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
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, retarget, Framed(chart.frame("notes"), fragment))
            .into_response());
    }
    let author = tx.context().tenant.user_id.ok_or(AppError::Forbidden)?;
    let addendum = NoteAddendumId::new();
    {
        let mut db = tx.conn().await?;
        sqlx::query!(
            "INSERT INTO clinical_note_addenda (organization_id, id, note_id, author_user_id, body) VALUES ($1, $2, $3, $4, $5)",
            tx.context().tenant.organization_id.as_uuid(),
            addendum.as_uuid(),
            found.id.as_uuid(),
            author.as_uuid(),
            text
        )
        .execute(&mut *db)
        .await?;
    }
    tx.audit(
        &event(&chart, Action::Create, Some(found.id))
            .details(json!({ "addendum_id": addendum.to_string() })),
    )
    .await?;
    let found = note(&tx, &chart, &note_id, Permission::ReadNoteBody).await?;
    let section =
        render_note(&tx, &chart, found, (String::new(), None), Some("Addendum added.".into())).await?;
    Ok(Framed(chart.frame("notes"), section).into_response())
}
