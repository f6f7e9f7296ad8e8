//! Break-glass: emergency access to ONE patient's record in ONE clinic, with a purpose and
//! a reason, after a proof of identity from the last five minutes, for at most 60 minutes
//! (the clinic may shorten it). A super admin asks from the platform console and enters
//! the patient's chart in a context of its own (the only way platform staff see patient
//! data); a clinic member kept out by "care team only" or a sensitive category asks from
//! the chart and keeps their context. Every read under it is audited with
//! `break_glass = true`, the clinic's privacy officers are told at once by e-mail (a link,
//! no patient data), the clinic's administrators see its emergency access log, and each
//! grant waits in the compliance console's review queue until an auditor records a
//! finding.

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::{Permission, PlatformRole};
use crate::auth::signin::FlowPage;
use crate::web::{Access, Audience, Phi, Routes};

pub fn routes() -> Routes {
    let support = Access::Platform(PlatformRole::SuperAdmin);
    let auditor = Access::Platform(PlatformRole::Auditor);
    Routes::new()
        .flow_page(FlowPage::EndEmergencyAccess, "/break-glass/end")
        .nav(
            "Emergency access",
            "/platform/break-glass",
            Audience::PlatformRole(PlatformRole::SuperAdmin),
            50,
        )
        .get("/platform/break-glass", support, Phi::None, handlers::platform_page)
        .post("/platform/break-glass", support, Phi::Writes, handlers::platform_start)
        .get(
            "/patients/{patient_id}/emergency-access",
            Access::Staff(Permission::ReadNoteBody),
            Phi::Reads,
            handlers::staff_page,
        )
        .post(
            "/patients/{patient_id}/emergency-access",
            Access::Staff(Permission::ReadNoteBody),
            Phi::Writes,
            handlers::staff_start,
        )
        .post("/break-glass/end", Access::SignedIn, Phi::None, handlers::end)
        .nav(
            "Emergency access log",
            "/settings/emergency-access",
            Audience::Staff(Permission::ViewAuditLog),
            60,
        )
        .get(
            "/settings/emergency-access",
            Access::Staff(Permission::ViewAuditLog),
            Phi::Reads,
            handlers::clinic_log,
        )
        .nav(
            "Break-glass reviews",
            "/compliance/break-glass",
            Audience::PlatformRole(PlatformRole::Auditor),
            20,
        )
        .get("/compliance/break-glass", auditor, Phi::Reads, handlers::queue)
        .post(
            "/compliance/break-glass/{organization_id}/{grant_id}/review",
            auditor,
            Phi::None,
            handlers::review,
        )
}
