//! Choosing the context to work in after sign-in (a clinic and a role, a patient portal,
//! acting for a dependent, a platform role), and the consent gate that comes before a
//! context is usable.

mod handlers;
mod views;

use crate::auth::signin::FlowPage;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new()
        .flow_page(FlowPage::ChooseContext, "/contexts")
        .flow_page(FlowPage::Consent, "/consent")
        .nav("Contexts", "/contexts", Audience::SignedIn, 90)
        .get("/contexts", Access::SignedIn, Phi::Reads, handlers::picker)
        .post("/contexts/select", Access::SignedIn, Phi::None, handlers::select)
        .get("/consent", Access::SignedIn, Phi::None, handlers::consent_page)
        .post("/consent", Access::SignedIn, Phi::None, handlers::accept)
}
