//! Clinical notes (SOAP): drafts by providers and clinical staff, signed by their author
//! and then final (the database refuses any change to a signed note; corrections are
//! addenda). The front desk sees that a note exists, never its text. A sensitive
//! category (behavioural health, substance-use treatment, sexual and reproductive
//! health) limits a note — its text and its existence — to the care team's providers.

mod handlers;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    let list = Access::Staff(Permission::ViewNoteList);
    let read = Access::Staff(Permission::ReadNoteBody);
    let write = Access::Staff(Permission::WriteNote);
    Routes::new()
        .get("/patients/{patient_id}/notes", list, Phi::Reads, handlers::list)
        .get("/patients/{patient_id}/notes/new", write, Phi::Reads, handlers::new_note)
        .post("/patients/{patient_id}/notes", write, Phi::Writes, handlers::create)
        .get("/patients/{patient_id}/notes/{note_id}", read, Phi::Reads, handlers::show)
        .post("/patients/{patient_id}/notes/{note_id}", write, Phi::Writes, handlers::update)
        .post("/patients/{patient_id}/notes/{note_id}/autosave", write, Phi::Writes, handlers::autosave)
        .post("/patients/{patient_id}/notes/{note_id}/sign", write, Phi::Writes, handlers::sign)
        .post("/patients/{patient_id}/notes/{note_id}/addenda", write, Phi::Writes, handlers::add_addendum)
}
