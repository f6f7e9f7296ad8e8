use askama::Template;

pub(crate) const CATEGORIES: [(&str, &str); 3] = [
    ("behavioral_health", "Behavioural health"),
    ("substance_use", "Substance-use treatment"),
    ("sexual_reproductive", "Sexual and reproductive health"),
];

pub(crate) fn category_label(value: &str) -> &'static str {
    CATEGORIES.iter().find(|(v, _)| *v == value).map_or("Sensitive", |(_, label)| label)
}

pub(crate) struct NoteRow {
    pub id: String,
    /// Whether the viewer may open it (a signed note they may read, or their own draft).
    pub openable: bool,
    pub title: String,
    pub author: String,
    pub when: String,
    pub signed: bool,
    pub category: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "notes/list.html")]
pub(crate) struct NotesSection {
    pub patient_id: String,
    pub notes: Vec<NoteRow>,
    /// Whether the viewer may open notes (read their text).
    pub can_read: bool,
    pub can_write: bool,
    pub notice: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct NoteForm {
    pub title: String,
    pub subjective: String,
    pub objective: String,
    pub assessment: String,
    pub plan: String,
    pub sensitive_category: String,
    /// The visit the note documents (an appointment id), or empty.
    pub visit: String,
}

/// Whether a POST carried the note's fields (the draft form sends them with every button;
/// a bare "Sign" from the read-only view sends none).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct FieldsSent {
    pub title: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct NoteErrors {
    pub title: Option<String>,
    pub body: Option<String>,
    pub category: Option<String>,
}

impl NoteErrors {
    pub fn any(&self) -> bool {
        self.title.is_some() || self.body.is_some() || self.category.is_some()
    }
}

#[derive(Template)]
#[template(path = "notes/form.html")]
pub(crate) struct NoteFormSection {
    pub patient_id: String,
    /// The draft's id: chosen when the form opens, so the first save (typed, autosaved or
    /// a double click) creates it and every later save updates it.
    pub note_id: String,
    /// Whether the draft exists yet (heading and the plain form's wording).
    pub saved: bool,
    /// "Saved at 10:42" once saved in this view.
    pub saved_at: Option<String>,
    pub form: NoteForm,
    pub errors: NoteErrors,
    pub categories: [(&'static str, &'static str); 3],
    pub may_mark_sensitive: bool,
    pub notice: Option<String>,
    /// The visits the note may document: (appointment id, "Tue 2026-12-01 10:00 · Follow-up with Dr X").
    pub visits: Vec<(String, String)>,
}

pub(crate) struct Addendum {
    pub author: String,
    pub when: String,
    pub body: String,
}

#[derive(Template)]
#[template(path = "notes/show.html")]
pub(crate) struct NoteSection {
    pub patient_id: String,
    pub note_id: String,
    pub title: String,
    pub author: String,
    pub created: String,
    pub signed: Option<String>,
    pub category: Option<&'static str>,
    /// The visit documented: (appointment id, "Tue 2026-12-01 10:00 · Follow-up with Dr X").
    pub visit: Option<(String, String)>,
    /// (heading, text) for S, O, A, P.
    pub parts: Vec<(&'static str, String)>,
    pub addenda: Vec<Addendum>,
    pub can_sign: bool,
    pub can_add_addendum: bool,
    pub addendum_text: String,
    pub addendum_error: Option<String>,
    pub notice: Option<String>,
}

/// The addendum form alone, for an addendum that needs correcting: the answer carries the
/// form and its message, not the note again (an error shows only what the form needs).
#[derive(Template)]
#[template(path = "notes/show.html", block = "addendum_form")]
pub(crate) struct AddendumFormFragment {
    pub patient_id: String,
    pub note_id: String,
    pub can_add_addendum: bool,
    pub addendum_text: String,
    pub addendum_error: Option<String>,
}

/// The draft form's save status, answered to each autosave: the time it was saved, or
/// why it was not (the text stays on the page either way).
#[derive(Template)]
#[template(path = "notes/_draft_status.html")]
pub(crate) struct DraftStatus {
    pub saved_at: Option<String>,
    pub problem: Option<String>,
}
