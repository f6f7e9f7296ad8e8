//! The authorization policy: `may(context, permission, target)`.
//!
//! Two kinds of refusal, deliberately different on the wire:
//! - [`Denial::NotPermitted`]: the context's role never has this permission (a front-desk
//!   user on an admin page). The route itself is off limits: 403.
//! - [`Denial::Hidden`]: the permission exists for the role, but not for this patient
//!   (not on the care team, not the proxy's dependent, a sensitive note, another
//!   tenant's id). The object must look absent: 404, never 403, so existence is not
//!   revealed.
//!
//! The policy is a pure function of facts the caller gathered in the same transaction
//! (care-team membership, proxy scopes, break-glass grant, the organization's chart
//! access setting), so it is tested as a matrix without a database, and a revoked grant
//! is refused on the very next request (nothing is cached).

use chrono::{DateTime, Utc};

use crate::db::ids::PatientId;

/// Staff roles within one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// MD, DO, NP, PA.
    Provider,
    /// Nurse, medical assistant: assists providers.
    ClinicalStaff,
    /// Front desk: demographics, scheduling, billing view; never note bodies.
    AdminStaff,
    /// Answers calls through the screen-pop; nothing of the chart beyond it.
    CallCenterAgent,
    /// Runs the clinic's settings and members; no patient data from this role.
    OrgAdmin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::ClinicalStaff => "clinical_staff",
            Self::AdminStaff => "admin_staff",
            Self::CallCenterAgent => "call_center_agent",
            Self::OrgAdmin => "org_admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "provider" => Self::Provider,
            "clinical_staff" => Self::ClinicalStaff,
            "admin_staff" => Self::AdminStaff,
            "call_center_agent" => Self::CallCenterAgent,
            "org_admin" => Self::OrgAdmin,
            _ => return None,
        })
    }

    /// How the role is named to people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Provider => "Provider",
            Self::ClinicalStaff => "Clinical staff",
            Self::AdminStaff => "Front desk",
            Self::CallCenterAgent => "Call center",
            Self::OrgAdmin => "Clinic administrator",
        }
    }

    pub const ALL: [Self; 5] =
        [Self::Provider, Self::ClinicalStaff, Self::AdminStaff, Self::CallCenterAgent, Self::OrgAdmin];
}

/// What a proxy may do for the patient they act for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyScopes {
    pub clinical: bool,
    pub billing: bool,
    pub scheduling: bool,
    pub messaging: bool,
}

/// The role a person acts in, within the current context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Staff(StaffRole),
    /// A patient looking at their own record.
    Patient {
        patient_id: PatientId,
    },
    /// A parent, guardian, POA or spouse acting for one patient, within scopes, until the
    /// grant expires.
    Proxy {
        patient_id: PatientId,
        scopes: ProxyScopes,
        expires_at: Option<DateTime<Utc>>,
    },
    /// Platform support: no patient data, except for one patient under break-glass.
    SuperAdmin {
        break_glass: Option<(PatientId, DateTime<Utc>)>,
    },
    /// Compliance: the audit log, nothing else.
    Auditor,
    /// An API token: nothing until token scopes exist.
    Service,
}

/// Platform roles: not members of any clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlatformRole {
    SuperAdmin,
    Auditor,
}

impl PlatformRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SuperAdmin => "super_admin",
            Self::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "super_admin" => Some(Self::SuperAdmin),
            "auditor" => Some(Self::Auditor),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::SuperAdmin => "Platform support",
            Self::Auditor => "Compliance auditor",
        }
    }
}

/// Whether clinicians see every chart or only those of patients whose care team they
/// are on. Chosen by each organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChartAccess {
    #[default]
    AllStaff,
    CareTeamOnly,
}

/// A part of the product a clinic may choose not to use. Routes and navigation entries
/// are declared with their module in the registry (`web::Routes::module`); a switched-off
/// module's routes answer 404 for that clinic and leave its navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    PatientPortal,
    SelfScheduling,
    Messaging,
    CallCenter,
    Documents,
    AiSummaries,
    Billing,
}

impl Module {
    pub const ALL: [Module; 7] = [
        Module::PatientPortal,
        Module::SelfScheduling,
        Module::Messaging,
        Module::CallCenter,
        Module::Documents,
        Module::AiSummaries,
        Module::Billing,
    ];

    /// As stored (`organizations.disabled_modules`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PatientPortal => "patient_portal",
            Self::SelfScheduling => "self_scheduling",
            Self::Messaging => "messaging",
            Self::CallCenter => "call_center",
            Self::Documents => "documents",
            Self::AiSummaries => "ai_summaries",
            Self::Billing => "billing",
        }
    }

    pub fn parse(text: &str) -> Option<Module> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::PatientPortal => "Patient portal",
            Self::SelfScheduling => "Self-scheduling",
            Self::Messaging => "Messaging",
            Self::CallCenter => "Call center",
            Self::Documents => "Documents",
            Self::AiSummaries => "AI summaries",
            Self::Billing => "Billing",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::PatientPortal => "Patients and their proxies sign in to see their own record and settings.",
            Self::SelfScheduling => "Patients book, move and cancel their own visits.",
            Self::Messaging => "Text messages with patients, and their text-message settings in the portal.",
            Self::CallCenter => "Call-center agents take calls with the screen-pop.",
            Self::Documents => "Uploaded documents: scanning, text recognition and filing.",
            Self::AiSummaries => "Summaries of a chart drafted by a language model for a clinician to check.",
            Self::Billing => "Payments and statements.",
        }
    }

    /// The stored names, read back; a name no longer known is ignored.
    pub fn parse_all(names: &[String]) -> Vec<Module> {
        let mut modules: Vec<Module> = names.iter().filter_map(|n| Self::parse(n)).collect();
        modules.sort_unstable();
        modules.dedup();
        modules
    }
}

/// Everything the policy needs about who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyContext {
    pub principal: Principal,
    pub chart_access: ChartAccess,
    pub now: DateTime<Utc>,
    /// A clinic member's emergency access to one patient, until when: their reads of that
    /// patient pass "care team only" and sensitive categories while it lasts (a super
    /// admin's is in their principal).
    pub break_glass: Option<(PatientId, DateTime<Utc>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Find patients (registry, search).
    SearchPatients,
    RegisterPatient,
    ViewDemographics,
    EditDemographics,
    /// Take a patient out of the registry (a duplicate, a registration by mistake), and
    /// put a removed patient back while that can still be undone.
    RemovePatient,
    ViewContacts,
    EditContacts,
    /// Safe-for-voicemail/SMS/e-mail flags: who decides where messages may go.
    EditContactSafety,
    ViewCareTeam,
    ManageCareTeam,
    ViewProxies,
    ManageProxies,
    ViewSchedule,
    ManageSchedule,
    /// Working hours and appointment types (clinic set-up, no patient data).
    ConfigureSchedule,
    /// That notes exist, their dates and authors; not their bodies.
    ViewNoteList,
    ReadNoteBody,
    WriteNote,
    /// The chart's clinical summary: allergies, medications, problems, vitals.
    ViewClinicalSummary,
    RecordClinicalSummary,
    ViewBilling,
    /// A patient's insurance coverage (the front desk's, from the card).
    EditInsurance,
    MessagePatient,
    /// The call-center screen-pop: caller match and a minimal summary.
    ScreenPop,
    ManageMembers,
    ManageOrganization,
    ViewAuditLog,
}

/// What the permission is exercised on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The organization as a whole (settings, members, lists).
    Organization,
    /// One patient, with the facts that decide access to them.
    Patient(PatientFacts),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatientFacts {
    pub patient_id: PatientId,
    /// The asking provider is on this patient's (current) care team.
    pub on_care_team: bool,
    /// For notes: a sensitive category (behavioural health, substance use, sexual and
    /// reproductive health). Only care-team providers read these; proxies never do.
    pub sensitive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(Denial),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// 403: this role never has the permission.
    NotPermitted,
    /// 404: the object must look absent to this context.
    Hidden,
}

impl Decision {
    pub(crate) fn is_allowed(self) -> bool {
        self == Self::Allow
    }

    /// The reason code recorded with an `authz_denied` audit event.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Allow => "allowed",
            Self::Deny(Denial::NotPermitted) => "role_lacks_permission",
            Self::Deny(Denial::Hidden) => "not_visible_to_context",
        }
    }
}

use Permission as P;

/// The permissions a staff role has at all (function level).
fn staff_has(role: StaffRole, permission: Permission) -> bool {
    match role {
        // The registry's upkeep (removing a patient) is the front desk's, who register them.
        StaffRole::Provider => !matches!(
            permission,
            P::ManageMembers
                | P::ManageOrganization
                | P::ViewAuditLog
                | P::ConfigureSchedule
                | P::RemovePatient
                | P::EditInsurance
        ),
        StaffRole::ClinicalStaff => !matches!(
            permission,
            P::ManageMembers
                | P::ManageOrganization
                | P::ViewAuditLog
                | P::ManageCareTeam
                | P::EditContactSafety
                | P::ConfigureSchedule
                | P::RemovePatient
                | P::EditInsurance
        ),
        StaffRole::AdminStaff => matches!(
            permission,
            P::SearchPatients
                | P::RegisterPatient
                | P::ViewDemographics
                | P::EditDemographics
                | P::RemovePatient
                | P::ViewContacts
                | P::EditContacts
                | P::EditContactSafety
                | P::ViewCareTeam
                | P::ManageCareTeam
                | P::ViewProxies
                | P::ManageProxies
                | P::ViewSchedule
                | P::ManageSchedule
                | P::ConfigureSchedule
                | P::ViewNoteList
                | P::ViewBilling
                | P::EditInsurance
                | P::MessagePatient
        ),
        StaffRole::CallCenterAgent => {
            matches!(permission, P::ScreenPop | P::ViewSchedule | P::ManageSchedule)
        }
        StaffRole::OrgAdmin => matches!(
            permission,
            P::ManageMembers | P::ManageOrganization | P::ViewAuditLog | P::ConfigureSchedule
        ),
    }
}

/// Permissions that reach into the clinical record (chart contents beyond demographics).
fn is_clinical(permission: Permission) -> bool {
    matches!(
        permission,
        P::ViewNoteList | P::ReadNoteBody | P::WriteNote | P::ViewClinicalSummary | P::RecordClinicalSummary
    )
}

/// Whether `principal` could ever be allowed `permission` (for some target): the
/// function-level check the route registry applies before a handler runs. A `false` here
/// is a 403; a `true` still leaves the per-object decision to [`may`].
pub fn grants(principal: Principal, permission: Permission) -> bool {
    match principal {
        Principal::Staff(role) => staff_has(role, permission),
        Principal::Patient { .. } => patient_has(permission),
        Principal::Proxy { .. } => proxy_scope(
            permission,
            ProxyScopes { clinical: true, billing: true, scheduling: true, messaging: true },
        )
        .unwrap_or(false),
        Principal::SuperAdmin { .. } => {
            matches!(permission, P::ManageOrganization) || break_glass_reads(permission)
        }
        Principal::Auditor => permission == P::ViewAuditLog,
        Principal::Service => false,
    }
}

fn patient_has(permission: Permission) -> bool {
    matches!(
        permission,
        P::ViewDemographics
            | P::ViewContacts
            | P::EditContacts
            | P::EditContactSafety
            | P::ViewCareTeam
            | P::ViewProxies
            | P::ViewSchedule
            | P::ManageSchedule
            | P::ViewNoteList
            | P::ReadNoteBody
            | P::ViewClinicalSummary
            | P::ViewBilling
            | P::MessagePatient
    )
}

/// For a proxy: `Some(whether the scopes cover it)`, or `None` when no scope ever does.
fn proxy_scope(permission: Permission, scopes: ProxyScopes) -> Option<bool> {
    Some(match permission {
        P::ViewDemographics | P::ViewCareTeam | P::ViewContacts => true,
        P::ViewNoteList | P::ReadNoteBody | P::ViewClinicalSummary => scopes.clinical,
        P::ViewBilling => scopes.billing,
        P::ViewSchedule | P::ManageSchedule => scopes.scheduling,
        P::MessagePatient => scopes.messaging,
        _ => return None,
    })
}

/// What break-glass opens: reading the chart of one patient, nothing more.
fn break_glass_reads(permission: Permission) -> bool {
    matches!(
        permission,
        P::ViewDemographics
            | P::ViewContacts
            | P::ViewCareTeam
            | P::ViewNoteList
            | P::ReadNoteBody
            | P::ViewClinicalSummary
    )
}

/// The decision. Pure: same inputs, same answer.
pub fn may(context: &PolicyContext, permission: Permission, target: Target) -> Decision {
    use Decision::{Allow, Deny};
    match context.principal {
        Principal::Staff(role) => {
            if !staff_has(role, permission) {
                return Deny(Denial::NotPermitted);
            }
            let Target::Patient(facts) = target else {
                return Allow;
            };
            // Break-glass opens reading this one patient's chart, nothing more, until it
            // expires.
            let emergency = context.break_glass.is_some_and(|(patient, until)| {
                patient == facts.patient_id && context.now < until && break_glass_reads(permission)
            });
            // Sensitive notes: the care team's providers only — not even their existence
            // shows to anyone else.
            if facts.sensitive && is_clinical(permission) {
                return if (role == StaffRole::Provider && facts.on_care_team) || emergency {
                    Allow
                } else {
                    Deny(Denial::Hidden)
                };
            }
            // Care-team-only organizations: clinical contents for the care team only.
            if context.chart_access == ChartAccess::CareTeamOnly
                && is_clinical(permission)
                && matches!(role, StaffRole::Provider | StaffRole::ClinicalStaff)
                && !facts.on_care_team
                && !emergency
            {
                return Deny(Denial::Hidden);
            }
            Allow
        }
        Principal::Patient { patient_id } => {
            if !patient_has(permission) {
                return Deny(Denial::NotPermitted);
            }
            match target {
                Target::Patient(facts) if facts.patient_id == patient_id => Allow,
                _ => Deny(Denial::Hidden),
            }
        }
        Principal::Proxy { patient_id, scopes, expires_at } => {
            let Some(scope) = proxy_scope(permission, scopes) else {
                return Deny(Denial::NotPermitted);
            };
            let current = expires_at.is_none_or(|at| context.now < at);
            match target {
                Target::Patient(facts)
                    if facts.patient_id == patient_id && current && scope && !facts.sensitive =>
                {
                    Allow
                }
                _ => Deny(Denial::Hidden),
            }
        }
        Principal::SuperAdmin { break_glass } => match (target, break_glass) {
            (Target::Organization, _) if permission == P::ManageOrganization => Allow,
            (Target::Patient(facts), Some((patient, until)))
                if facts.patient_id == patient && context.now < until && break_glass_reads(permission) =>
            {
                Allow
            }
            (Target::Patient(_), _) => Deny(Denial::Hidden),
            _ => Deny(Denial::NotPermitted),
        },
        Principal::Auditor => {
            if permission == P::ViewAuditLog && target == Target::Organization {
                Allow
            } else {
                Deny(Denial::NotPermitted)
            }
        }
        Principal::Service => Deny(Denial::NotPermitted),
    }
}

/// Whether a visit's free-text reason (and, for a sensitive visit, that it is one) may be
/// shown: it says what the visit is about, so it follows the chart's own rules for
/// clinical contents. Staff who see demographics read routine reasons (not the call
/// center); in a clinic whose charts are for the care team, clinicians off the team do
/// not. A sensitive visit's reason is its own patient's and their care-team providers'
/// alone — "Methadone intake" is as sensitive as the note written after it. A proxy
/// reads reasons with the clinical scope, never a sensitive one.
pub(crate) fn may_see_visit_reason(context: &PolicyContext, visit: PatientFacts) -> bool {
    match context.principal {
        Principal::Staff(role) => {
            if !staff_has(role, P::ViewDemographics) {
                return false;
            }
            if visit.sensitive {
                return role == StaffRole::Provider && visit.on_care_team;
            }
            !(context.chart_access == ChartAccess::CareTeamOnly
                && matches!(role, StaffRole::Provider | StaffRole::ClinicalStaff)
                && !visit.on_care_team)
        }
        Principal::Patient { patient_id } => patient_id == visit.patient_id,
        Principal::Proxy { patient_id, scopes, expires_at } => {
            patient_id == visit.patient_id
                && scopes.clinical
                && !visit.sensitive
                && expires_at.is_none_or(|at| context.now < at)
        }
        Principal::SuperAdmin { .. } | Principal::Auditor | Principal::Service => false,
    }
}

/// A change to one patient's care team, with the facts that decide it. Care-team
/// membership opens sensitive notes and care-team-only charts, so it is not self-service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CareTeamChange {
    /// The asking provider is on this patient's care team already.
    pub actor_on_team: bool,
    /// The provider being added is the asking person.
    pub adds_self: bool,
    /// The change is about the primary provider (adding one, or removing one).
    pub primary: bool,
    /// The change ends the current primary provider's place (removing them, to put
    /// someone else there).
    pub removes_primary: bool,
}

/// Why a care-team change was refused, in words for the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CareTeamRefusal {
    /// Nobody adds themselves: someone else must.
    AddsSelf,
    /// A provider changes the team only of patients whose team they are on.
    NotOnTeam,
    /// The front desk assigns the primary provider, nothing else.
    PrimaryOnly,
    /// Replacing or removing a primary provider is for the patient's care team.
    PrimaryByCareTeam,
    /// The role never changes care teams.
    NotPermitted,
}

impl CareTeamRefusal {
    pub fn message(self) -> &'static str {
        match self {
            Self::AddsSelf => {
                "You cannot add yourself to a care team. Ask a provider on the team or the front desk."
            }
            Self::NotOnTeam => {
                "Only the patient's own care team (or the front desk, for the primary provider) can change it."
            }
            Self::PrimaryOnly => {
                "The front desk assigns the primary provider; the care team's providers add specialists and consultants."
            }
            Self::PrimaryByCareTeam => {
                "A primary provider is replaced or removed by a provider on the patient's care team: it changes who may read the patient's sensitive notes. Ask one of them."
            }
            Self::NotPermitted => "Your role does not change care teams.",
        }
    }
}

/// Who may change a care team: the patient's own care-team providers (any role on the
/// team); the front desk assigns a primary provider to a patient who has none, but does
/// not remove one (the primary reads the patient's sensitive notes, so replacing them is
/// for the care team, who are told); nobody adds themselves.
pub(crate) fn may_change_care_team(
    principal: Principal,
    change: CareTeamChange,
) -> Result<(), CareTeamRefusal> {
    if change.adds_self {
        return Err(CareTeamRefusal::AddsSelf);
    }
    match principal {
        Principal::Staff(StaffRole::Provider) if change.actor_on_team => Ok(()),
        Principal::Staff(StaffRole::Provider) => Err(CareTeamRefusal::NotOnTeam),
        Principal::Staff(StaffRole::AdminStaff) if change.primary && change.removes_primary => {
            Err(CareTeamRefusal::PrimaryByCareTeam)
        }
        Principal::Staff(StaffRole::AdminStaff) if change.primary => Ok(()),
        Principal::Staff(StaffRole::AdminStaff) => Err(CareTeamRefusal::PrimaryOnly),
        _ => Err(CareTeamRefusal::NotPermitted),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    const ALL_PERMISSIONS: [Permission; 24] = [
        P::SearchPatients,
        P::RegisterPatient,
        P::ViewDemographics,
        P::EditDemographics,
        P::RemovePatient,
        P::ViewContacts,
        P::EditContacts,
        P::EditContactSafety,
        P::ViewCareTeam,
        P::ManageCareTeam,
        P::ViewProxies,
        P::ManageProxies,
        P::ViewSchedule,
        P::ManageSchedule,
        P::ConfigureSchedule,
        P::ViewNoteList,
        P::ReadNoteBody,
        P::WriteNote,
        P::ViewBilling,
        P::MessagePatient,
        P::ScreenPop,
        P::ManageMembers,
        P::ManageOrganization,
        P::ViewAuditLog,
    ];

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("valid")
    }

    fn ctx(principal: Principal) -> PolicyContext {
        PolicyContext { principal, chart_access: ChartAccess::AllStaff, now: now(), break_glass: None }
    }

    fn patient(id: PatientId) -> Target {
        Target::Patient(PatientFacts { patient_id: id, on_care_team: false, sensitive: false })
    }

    fn sensitive(id: PatientId, on_care_team: bool) -> Target {
        Target::Patient(PatientFacts { patient_id: id, on_care_team, sensitive: true })
    }

    #[test]
    fn the_front_desk_sees_that_notes_exist_but_never_their_bodies() {
        let desk = ctx(Principal::Staff(StaffRole::AdminStaff));
        let p = PatientId::new();
        assert!(may(&desk, P::ViewNoteList, patient(p)).is_allowed());
        assert_eq!(may(&desk, P::ReadNoteBody, patient(p)), Decision::Deny(Denial::NotPermitted));
        assert_eq!(may(&desk, P::WriteNote, patient(p)), Decision::Deny(Denial::NotPermitted));
        assert!(may(&desk, P::EditDemographics, patient(p)).is_allowed());
        assert!(may(&desk, P::ViewBilling, patient(p)).is_allowed());
    }

    #[test]
    fn an_org_admin_has_no_patient_data_and_no_one_else_administers() {
        let admin = ctx(Principal::Staff(StaffRole::OrgAdmin));
        for permission in ALL_PERMISSIONS {
            let admin_only = matches!(permission, P::ManageMembers | P::ManageOrganization | P::ViewAuditLog);
            // Clinic set-up without patient data: the admin, and the front desk who run it.
            let setup = permission == P::ConfigureSchedule;
            assert_eq!(
                may(&admin, permission, Target::Organization).is_allowed(),
                admin_only || setup,
                "{permission:?}"
            );
            for role in StaffRole::ALL.into_iter().filter(|r| *r != StaffRole::OrgAdmin) {
                if admin_only {
                    assert_eq!(
                        may(&ctx(Principal::Staff(role)), permission, Target::Organization),
                        Decision::Deny(Denial::NotPermitted),
                        "{role:?} {permission:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn only_the_front_desk_takes_patients_out_of_the_registry() {
        let p = PatientId::new();
        for role in StaffRole::ALL {
            assert_eq!(
                may(&ctx(Principal::Staff(role)), P::RemovePatient, patient(p)).is_allowed(),
                role == StaffRole::AdminStaff,
                "{role:?}"
            );
        }
        assert!(!may(&ctx(Principal::Patient { patient_id: p }), P::RemovePatient, patient(p)).is_allowed());
    }

    #[test]
    fn a_call_center_agent_gets_the_screen_pop_and_scheduling_only() {
        let agent = ctx(Principal::Staff(StaffRole::CallCenterAgent));
        for permission in ALL_PERMISSIONS {
            let expected = matches!(permission, P::ScreenPop | P::ViewSchedule | P::ManageSchedule);
            assert_eq!(
                may(&agent, permission, patient(PatientId::new())).is_allowed(),
                expected,
                "{permission:?}"
            );
        }
    }

    #[test]
    fn sensitive_notes_are_for_the_care_teams_providers_only() {
        let p = PatientId::new();
        let provider = ctx(Principal::Staff(StaffRole::Provider));
        assert!(may(&provider, P::ReadNoteBody, sensitive(p, true)).is_allowed());
        assert_eq!(may(&provider, P::ReadNoteBody, sensitive(p, false)), Decision::Deny(Denial::Hidden));
        let nurse = ctx(Principal::Staff(StaffRole::ClinicalStaff));
        assert_eq!(may(&nurse, P::ReadNoteBody, sensitive(p, true)), Decision::Deny(Denial::Hidden));
        let desk = ctx(Principal::Staff(StaffRole::AdminStaff));
        assert_eq!(may(&desk, P::ViewNoteList, sensitive(p, true)), Decision::Deny(Denial::Hidden));
    }

    #[test]
    fn care_team_only_organizations_hide_charts_from_clinicians_outside_the_team() {
        let p = PatientId::new();
        let mut provider = ctx(Principal::Staff(StaffRole::Provider));
        provider.chart_access = ChartAccess::CareTeamOnly;
        assert_eq!(may(&provider, P::ReadNoteBody, patient(p)), Decision::Deny(Denial::Hidden));
        let on_team = Target::Patient(PatientFacts { patient_id: p, on_care_team: true, sensitive: false });
        assert!(may(&provider, P::ReadNoteBody, on_team).is_allowed());
        // Demographics stay available (registration, scheduling need them).
        assert!(may(&provider, P::ViewDemographics, patient(p)).is_allowed());
    }

    #[test]
    fn a_patient_sees_only_their_own_record() {
        let me = PatientId::new();
        let patient_ctx = ctx(Principal::Patient { patient_id: me });
        assert!(may(&patient_ctx, P::ReadNoteBody, patient(me)).is_allowed());
        assert_eq!(
            may(&patient_ctx, P::ReadNoteBody, patient(PatientId::new())),
            Decision::Deny(Denial::Hidden)
        );
        assert_eq!(
            may(&patient_ctx, P::SearchPatients, Target::Organization),
            Decision::Deny(Denial::NotPermitted)
        );
    }

    #[test]
    fn proxy_scopes_decide_each_kind_of_access() {
        let child = PatientId::new();
        for scopes in [
            ProxyScopes::default(),
            ProxyScopes { clinical: true, ..Default::default() },
            ProxyScopes { billing: true, ..Default::default() },
            ProxyScopes { scheduling: true, messaging: true, ..Default::default() },
        ] {
            let proxy = ctx(Principal::Proxy { patient_id: child, scopes, expires_at: None });
            assert_eq!(may(&proxy, P::ReadNoteBody, patient(child)).is_allowed(), scopes.clinical);
            assert_eq!(may(&proxy, P::ViewBilling, patient(child)).is_allowed(), scopes.billing);
            assert_eq!(may(&proxy, P::ManageSchedule, patient(child)).is_allowed(), scopes.scheduling);
            assert_eq!(may(&proxy, P::MessagePatient, patient(child)).is_allowed(), scopes.messaging);
            assert!(may(&proxy, P::ViewDemographics, patient(child)).is_allowed());
            // Another family's child, whatever the scopes.
            assert_eq!(
                may(&proxy, P::ViewDemographics, patient(PatientId::new())),
                Decision::Deny(Denial::Hidden)
            );
            // Sensitive categories never reach a proxy.
            assert_eq!(may(&proxy, P::ReadNoteBody, sensitive(child, true)), Decision::Deny(Denial::Hidden));
        }
    }

    #[test]
    fn an_expired_proxy_grant_is_refused_at_once() {
        let child = PatientId::new();
        let all = ProxyScopes { clinical: true, billing: true, scheduling: true, messaging: true };
        let mut proxy = ctx(Principal::Proxy { patient_id: child, scopes: all, expires_at: Some(now()) });
        proxy.now = now() - TimeDelta::seconds(1);
        assert!(may(&proxy, P::ViewDemographics, patient(child)).is_allowed());
        proxy.now = now();
        assert_eq!(may(&proxy, P::ViewDemographics, patient(child)), Decision::Deny(Denial::Hidden));
    }

    #[test]
    fn a_super_admin_reaches_patient_data_only_under_an_active_break_glass_for_that_patient() {
        let p = PatientId::new();
        let no_grant = ctx(Principal::SuperAdmin { break_glass: None });
        for permission in ALL_PERMISSIONS {
            assert!(!may(&no_grant, permission, patient(p)).is_allowed(), "{permission:?}");
        }
        let until = now() + TimeDelta::minutes(60);
        let granted = ctx(Principal::SuperAdmin { break_glass: Some((p, until)) });
        assert!(may(&granted, P::ReadNoteBody, patient(p)).is_allowed());
        assert!(!may(&granted, P::EditDemographics, patient(p)).is_allowed(), "read only");
        assert_eq!(may(&granted, P::ReadNoteBody, patient(PatientId::new())), Decision::Deny(Denial::Hidden));
        let mut expired = granted;
        expired.now = until;
        assert_eq!(may(&expired, P::ReadNoteBody, patient(p)), Decision::Deny(Denial::Hidden));
    }

    #[test]
    fn a_members_break_glass_reads_one_patient_past_care_team_and_sensitivity_until_it_expires() {
        let p = PatientId::new();
        let until = now() + TimeDelta::minutes(30);
        let mut nurse = ctx(Principal::Staff(StaffRole::ClinicalStaff));
        nurse.chart_access = ChartAccess::CareTeamOnly;
        assert_eq!(may(&nurse, P::ReadNoteBody, patient(p)), Decision::Deny(Denial::Hidden), "kept out");
        assert_eq!(may(&nurse, P::ReadNoteBody, sensitive(p, false)), Decision::Deny(Denial::Hidden));
        nurse.break_glass = Some((p, until));
        assert!(may(&nurse, P::ReadNoteBody, patient(p)).is_allowed());
        assert!(may(&nurse, P::ReadNoteBody, sensitive(p, false)).is_allowed());
        assert_eq!(may(&nurse, P::WriteNote, patient(p)), Decision::Deny(Denial::Hidden), "reads only");
        assert_eq!(may(&nurse, P::ReadNoteBody, patient(PatientId::new())), Decision::Deny(Denial::Hidden));
        let desk = PolicyContext { principal: Principal::Staff(StaffRole::AdminStaff), ..nurse };
        assert_eq!(
            may(&desk, P::ReadNoteBody, patient(p)),
            Decision::Deny(Denial::NotPermitted),
            "no new permission"
        );
        nurse.now = until;
        assert_eq!(may(&nurse, P::ReadNoteBody, patient(p)), Decision::Deny(Denial::Hidden), "expired");
    }

    #[test]
    fn the_function_level_check_agrees_with_the_decision() {
        let p = PatientId::new();
        let everything = ProxyScopes { clinical: true, billing: true, scheduling: true, messaging: true };
        let principals = StaffRole::ALL.map(Principal::Staff).into_iter().chain([
            Principal::Patient { patient_id: p },
            Principal::Proxy { patient_id: p, scopes: everything, expires_at: None },
            Principal::SuperAdmin { break_glass: Some((p, now() + TimeDelta::minutes(5))) },
            Principal::Auditor,
            Principal::Service,
        ]);
        for principal in principals {
            for permission in ALL_PERMISSIONS {
                let c = ctx(principal);
                let on_team =
                    Target::Patient(PatientFacts { patient_id: p, on_care_team: true, sensitive: false });
                let ever = may(&c, permission, on_team).is_allowed()
                    || may(&c, permission, Target::Organization).is_allowed();
                assert_eq!(grants(principal, permission), ever, "{principal:?} {permission:?}");
            }
        }
    }

    #[test]
    fn auditors_read_the_audit_log_and_nothing_else() {
        let auditor = ctx(Principal::Auditor);
        for permission in ALL_PERMISSIONS {
            assert_eq!(
                may(&auditor, permission, Target::Organization).is_allowed(),
                permission == P::ViewAuditLog,
                "{permission:?}"
            );
            assert!(!may(&auditor, permission, patient(PatientId::new())).is_allowed());
        }
    }
}

#[cfg(test)]
mod care_team_tests {
    use super::*;

    #[test]
    fn a_visit_reason_is_for_clinical_eyes_and_a_sensitive_one_for_the_care_team_alone() {
        let patient = PatientId::new();
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("valid");
        let context =
            |principal, chart_access| PolicyContext { principal, chart_access, now, break_glass: None };
        let visit = |on_care_team, sensitive| PatientFacts { patient_id: patient, on_care_team, sensitive };
        let sees = |principal, access, on_team, sensitive| {
            may_see_visit_reason(&context(principal, access), visit(on_team, sensitive))
        };
        let proxy = |clinical| Principal::Proxy {
            patient_id: patient,
            scopes: ProxyScopes { clinical, billing: true, scheduling: true, messaging: true },
            expires_at: None,
        };
        let all = ChartAccess::AllStaff;
        let team_only = ChartAccess::CareTeamOnly;
        let provider = Principal::Staff(StaffRole::Provider);
        let nurse = Principal::Staff(StaffRole::ClinicalStaff);
        let desk = Principal::Staff(StaffRole::AdminStaff);
        assert!(!sees(proxy(false), all, false, false), "scheduling alone is not clinical");
        assert!(sees(proxy(true), all, false, false));
        assert!(!sees(proxy(true), all, false, true), "a sensitive visit, never to a proxy");
        assert!(!sees(Principal::Staff(StaffRole::CallCenterAgent), all, false, false));
        assert!(!sees(Principal::Staff(StaffRole::OrgAdmin), all, false, false));
        // Routine reasons: every staff role that sees demographics, unless the clinic keeps
        // charts to the care team, where clinicians off the team do not.
        for who in [provider, nurse, desk] {
            assert!(sees(who, all, false, false));
        }
        assert!(!sees(provider, team_only, false, false));
        assert!(!sees(nurse, team_only, false, false));
        assert!(sees(provider, team_only, true, false));
        assert!(sees(desk, team_only, false, false), "the front desk books by the reason");
        // Sensitive reasons: the care team's providers only, whatever the clinic's setting.
        for access in [all, team_only] {
            assert!(sees(provider, access, true, true));
            assert!(!sees(provider, access, false, true));
            assert!(!sees(nurse, access, true, true));
            assert!(!sees(desk, access, true, true));
        }
        // The patient: their own visits, sensitive or not; nobody else's.
        assert!(sees(Principal::Patient { patient_id: patient }, all, false, true));
        assert!(!sees(Principal::Patient { patient_id: PatientId::new() }, all, false, false));
        assert!(!sees(Principal::SuperAdmin { break_glass: None }, all, true, false));
    }

    #[test]
    fn nobody_adds_themselves_and_only_the_team_or_the_front_desk_for_the_primary_change_it() {
        let change = |actor_on_team, adds_self, primary| CareTeamChange {
            actor_on_team,
            adds_self,
            primary,
            removes_primary: false,
        };
        let provider = Principal::Staff(StaffRole::Provider);
        let desk = Principal::Staff(StaffRole::AdminStaff);
        for principal in [provider, desk, Principal::Staff(StaffRole::ClinicalStaff)] {
            for (on_team, primary) in [(false, false), (true, true), (true, false), (false, true)] {
                assert_eq!(
                    may_change_care_team(principal, change(on_team, true, primary)),
                    Err(CareTeamRefusal::AddsSelf)
                );
            }
        }
        assert_eq!(may_change_care_team(provider, change(true, false, false)), Ok(()));
        assert_eq!(may_change_care_team(provider, change(true, false, true)), Ok(()));
        assert_eq!(
            may_change_care_team(provider, change(false, false, true)),
            Err(CareTeamRefusal::NotOnTeam)
        );
        assert_eq!(may_change_care_team(desk, change(false, false, true)), Ok(()));
        // Removing (to replace) a primary: the care team's providers, not the front desk.
        let removal = CareTeamChange { removes_primary: true, ..change(false, false, true) };
        assert_eq!(may_change_care_team(desk, removal), Err(CareTeamRefusal::PrimaryByCareTeam));
        assert_eq!(may_change_care_team(provider, CareTeamChange { actor_on_team: true, ..removal }), Ok(()));
        assert_eq!(may_change_care_team(provider, removal), Err(CareTeamRefusal::NotOnTeam));
        assert_eq!(
            may_change_care_team(desk, change(false, false, false)),
            Err(CareTeamRefusal::PrimaryOnly)
        );
        for role in [StaffRole::ClinicalStaff, StaffRole::CallCenterAgent, StaffRole::OrgAdmin] {
            assert_eq!(
                may_change_care_team(Principal::Staff(role), change(true, false, true)),
                Err(CareTeamRefusal::NotPermitted)
            );
        }
    }
}
