//! Clinical notes (SOAP): drafts by providers and clinical staff, signed by their author
//! and then final (the database refuses any change to a signed note; corrections are
//! addenda). The front desk sees that a note exists, never its text. A sensitive
//! category (behavioural health, substance-use treatment, sexual and reproductive
//! health) limits a note — its text and its existence — to the care team's providers.

mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/notes";

pub fn routes() -> Routes {
    let list = Access::Staff(Permission::ViewNoteList);
    let read = Access::Staff(Permission::ReadNoteBody);
    let write = Access::Staff(Permission::WriteNote);
    // A note's parts and an addendum are free text: lines and tabs allowed there only.
    let text: &[&str] = &["subjective", "objective", "assessment", "plan"];
    Routes::new()
        .chart_tab(SECTION, "Notes", 50)
        .get(SECTION, list, Phi::Reads, handlers::list)
        .get("/patients/{patient_id}/notes/new", write, Phi::Reads, handlers::new_note)
        .post_multiline("/patients/{patient_id}/notes", write, Phi::Writes, text, handlers::create)
        .get("/patients/{patient_id}/notes/{note_id}", read, Phi::Reads, handlers::show)
        .post_multiline("/patients/{patient_id}/notes/{note_id}", write, Phi::Writes, text, handlers::update)
        .post_multiline(
            "/patients/{patient_id}/notes/{note_id}/autosave",
            write,
            Phi::Writes,
            text,
            handlers::autosave,
        )
        .post_multiline(
            "/patients/{patient_id}/notes/{note_id}/sign",
            write,
            Phi::Writes,
            text,
            handlers::sign,
        )
        .post_multiline(
            "/patients/{patient_id}/notes/{note_id}/addenda",
            write,
            Phi::Writes,
            &["body"],
            handlers::add_addendum,
        )
}
