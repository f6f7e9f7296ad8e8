use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::repo;
use super::views::{Card, HomePage, PersonaHome};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{PatientFacts, Permission, Principal, StaffRole, Target};
use crate::auth::session::{self, ContextClaim};
use crate::web::authenticate::Authenticated;
use crate::web::{AppResult, Page, TenantTx};

pub async fn index() -> Page<HomePage> {
    Page(HomePage)
}

/// Each persona's home.
pub async fn home(auth: Authenticated) -> Response {
    let to = match auth.context {
        // Emergency access is to one chart, nothing else.
        Some(ContextClaim::BreakGlass { patient_id, .. }) => {
            return Redirect::to(&format!("/patients/{patient_id}")).into_response();
        }
        None => "/contexts",
        // Each staff role has a home that says what to do today.
        Some(ContextClaim::Staff { role, .. }) => match role {
            StaffRole::OrgAdmin => "/home/admin",
            StaffRole::AdminStaff => "/home/front-desk",
            StaffRole::Provider => "/home/clinician",
            StaffRole::ClinicalStaff => "/home/rooming",
            StaffRole::CallCenterAgent => "/home/calls",
        },
        Some(ContextClaim::Patient { .. } | ContextClaim::Proxy { .. }) => "/portal",
        Some(ContextClaim::Platform { role: crate::auth::policy::PlatformRole::SuperAdmin }) => "/platform",
        Some(ContextClaim::Platform { .. }) => "/compliance",
    };
    Redirect::to(to).into_response()
}

async fn context_label(session: &Session) -> AppResult<String> {
    Ok(session::load(session).await?.user.and_then(|u| u.context_label).unwrap_or_default())
}

fn card(title: &str, text: &str, link: Option<(&str, &str)>) -> Card {
    Card { title: title.into(), text: text.into(), link: link.map(|(l, h)| (l.into(), h.into())) }
}

pub async fn workspace(session: Session) -> AppResult<Page<PersonaHome>> {
    Ok(Page(PersonaHome {
        heading: "Workspace".into(),
        context: context_label(&session).await?,
        cards: vec![
            card(
                "Your account",
                "Passkeys, authenticator app, recovery codes and where you are signed in.",
                Some(("Account security", "/account")),
            ),
            card(
                "Other roles",
                "If you work at another clinic or in another role, switch here.",
                Some(("Switch context", "/contexts")),
            ),
        ],
    }))
}

/// The patient portal's home: whose record this is (read, so audited).
pub async fn portal(session: Session, tx: TenantTx) -> AppResult<Page<PersonaHome>> {
    let patient = match tx.context().principal {
        Principal::Patient { patient_id } | Principal::Proxy { patient_id, .. } => patient_id,
        _ => return Err(crate::web::AppError::Forbidden),
    };
    let facts = PatientFacts { patient_id: patient, on_care_team: false, sensitive: false };
    tx.authorize(Permission::ViewDemographics, Target::Patient(facts), "patient").await?;
    let name = repo::patient_name(&mut *tx.conn().await?, patient).await?;
    let Some(name) = name else { return Err(tx.not_found("patient", patient.as_uuid()).await) };
    tx.audit(&AuditEvent::success(Action::Read, "patient", patient).patient(patient).purpose("portal.home"))
        .await?;
    let acting_for = matches!(tx.context().principal, Principal::Proxy { .. });
    Ok(Page(PersonaHome {
        heading: if acting_for {
            format!("Caring for {} {}", name.given_name, name.family_name)
        } else {
            format!("Welcome, {}", name.given_name)
        },
        context: context_label(&session).await?,
        cards: vec![
            card(
                "Your account",
                "Sign-in, passkeys and where you are signed in.",
                Some(("Account security", "/account")),
            ),
            card(
                "Text messages",
                "Appointment reminders and care messages by text, if you want them.",
                Some(("Text message settings", "/portal/text-messages")),
            ),
            card(
                "Someone else's care",
                "If you also look after a family member, switch to them here.",
                Some(("Switch", "/contexts")),
            ),
        ],
    }))
}

pub async fn platform(session: Session) -> AppResult<Page<PersonaHome>> {
    Ok(Page(PersonaHome {
        heading: "Platform".into(),
        context: context_label(&session).await?,
        cards: vec![
            card(
                "Patient data",
                "Platform support sees no patient data. Emergency access is granted per patient, with a reason, and is audited.",
                None,
            ),
            card(
                "Clinics",
                "Every clinic with its counts; a new clinic and its first administrator; suspension.",
                Some(("Clinics", "/platform/clinics")),
            ),
            card(
                "Platform roles",
                "Who holds platform support and auditor roles; grants and revocations, never one's own.",
                Some(("Platform roles", "/platform/roles")),
            ),
            card(
                "Health",
                "The job queue and dead jobs per clinic, and each audit chain's sealing and last verification.",
                Some(("Health", "/platform/health")),
            ),
            card(
                "Terms of service",
                "The terms everyone accepts. A new version is asked for at each person's next context entry.",
                Some(("Terms of service", "/platform/terms")),
            ),
        ],
    }))
}

pub(crate) async fn compliance(session: Session) -> AppResult<Page<PersonaHome>> {
    Ok(Page(PersonaHome {
        heading: "Compliance".into(),
        context: context_label(&session).await?,
        cards: vec![
            card(
                "Audit log",
                "Search a clinic's audit log by patient, person, action, outcome, break-glass and period.",
                Some(("Search the audit log", "/compliance/audit")),
            ),
            card(
                "Accounting of disclosures",
                "Who accessed or disclosed one patient's record, when and why, over a period; printable.",
                Some(("An accounting for one patient", "/compliance/disclosures")),
            ),
            card(
                "Break-glass reviews",
                "Every emergency access to a patient's record waits here for a finding.",
                Some(("Review emergency accesses", "/compliance/break-glass")),
            ),
            card(
                "Audit log integrity",
                "Every clinic's audit log is sealed into a hash chain; `lockdev audit verify` recomputes it.",
                None,
            ),
        ],
    }))
}
