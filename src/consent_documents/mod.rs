//! Versions of the documents people accept: a clinic's notice of privacy practices and
//! its consent to treatment (kept by the clinic administrator), and the platform's terms
//! of service (kept by a super admin). A version, once published, is never changed: a
//! new one is published beside it, the earlier ones stay readable, and people are asked
//! to accept the new one at their next context entry (`auth::contexts::missing_consents`).

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::{Permission, PlatformRole};
use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    let manage = Access::Staff(Permission::ManageOrganization);
    let platform = Access::Platform(PlatformRole::SuperAdmin);
    Routes::new()
        .get("/settings/consents", manage, Phi::None, handlers::clinic_page)
        .post_multiline("/settings/consents", manage, Phi::None, &["body"], handlers::clinic_publish)
        .get("/settings/consents/{consent_document_id}", manage, Phi::None, handlers::clinic_document)
        .get("/platform/terms", platform, Phi::None, handlers::platform_page)
        .post_multiline("/platform/terms", platform, Phi::None, &["body"], handlers::platform_publish)
        .get("/platform/terms/{consent_document_id}", platform, Phi::None, handlers::platform_document)
}
