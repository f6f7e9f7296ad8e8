//! The chart frame every chart section is served in: the patient's header (name, age,
//! date of birth, MRN, safe-contact and proxy badges, care team, the confidential
//! communication banner) and the section tabs. The sections are features of their own
//! (`patients`, `contacts`, `care_team`, `patient_access`, `appointments`, `notes`); they
//! plug in here and open the chart through [`open`], which checks visibility and the
//! policy, so none of them re-implements access.
//!
//! Opening a chart is a disclosure: the header names the patient. [`open`] tells the
//! request's transaction so, and a response that shows the frame is on record even when
//! the section forgot to say so, or answered 409/422 (see `web::tenant_tx`).

use askama::Template;
use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
use chrono_tz::Tz;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{self, PatientFacts, Permission, Target};
use crate::db::ids::PatientId;
use crate::web::context::ChartTabs;
use crate::web::{AppError, AppResult, Framed, TenantTx};

/// The legal sexes a chart records, with how they are shown.
pub const SEXES: [(&str, &str); 4] =
    [("female", "Female"), ("male", "Male"), ("x", "X (non-binary)"), ("unknown", "Unknown")];

pub fn sex_label(value: &str) -> &'static str {
    SEXES.iter().find(|(v, _)| *v == value).map_or("Unknown", |(_, label)| label)
}

/// Age in whole years on `today`.
pub fn age_on(date_of_birth: NaiveDate, today: NaiveDate) -> i32 {
    let mut age = today.year() - date_of_birth.year();
    if (today.month(), today.day()) < (date_of_birth.month(), date_of_birth.day()) {
        age -= 1;
    }
    age.max(0)
}

/// An optional day a section's form asks for (`<input type="date">`: YYYY-MM-DD) that
/// cannot lie in the future: an onset, a start, a stop.
pub fn past_day(text: &str, today: NaiveDate) -> Result<Option<NaiveDate>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) if day > today => Err("This date is in the future."),
        Ok(day) if day.year() < 1900 => Err("Check the year."),
        Ok(day) => Ok(Some(day)),
        Err(_) => Err("Enter the date as year-month-day, for example 2024-03-15."),
    }
}

/// What the header shows. Loaded in one statement with the access facts.
#[derive(Debug, Clone)]
pub struct ChartHeader {
    pub patient_id: PatientId,
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: NaiveDate,
    pub age: i32,
    pub mrn: String,
    pub sex: &'static str,
    pub is_dependent: bool,
    pub has_portal: bool,
    pub confidential_communication: bool,
    pub confidential_note: Option<String>,
    /// Contacts with at least one safe flag, and contacts in total.
    pub safe_contacts: i64,
    pub contacts: i64,
    pub active_proxies: i64,
    /// The primary provider's name, and the rest of the team ("Name (role)").
    pub primary: Option<String>,
    pub care_team: Vec<String>,
    /// Shown only to those who may read the clinical summary (`None` for the others).
    pub allergies: Option<AllergyLine>,
}

/// What the header says about allergies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllergyLine {
    /// Nobody recorded an answer: not the same as none.
    NotRecorded,
    NoneKnown,
    /// "Substance (severity)", the most severe first; whether any is severe.
    Listed {
        entries: Vec<String>,
        severe: bool,
    },
}

impl ChartHeader {
    pub fn display_name(&self) -> String {
        match &self.preferred_name {
            Some(preferred) if preferred != &self.given_name => {
                format!("{} \u{201c}{preferred}\u{201d} {}", self.given_name, self.family_name)
            }
            _ => format!("{} {}", self.given_name, self.family_name),
        }
    }
}

/// An opened chart: the header, whether the asking clinician is on the care team, the
/// viewer's timezone.
#[derive(Debug, Clone)]
pub struct Chart {
    pub header: ChartHeader,
    pub facts: PatientFacts,
    pub timezone: Tz,
    /// The tabs the chart's sections declared (`Routes::chart_tab`).
    tabs: ChartTabs,
}

impl Chart {
    pub fn id(&self) -> PatientId {
        self.header.patient_id
    }

    /// A UTC instant on the viewer's clock.
    pub fn local(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.timezone).format("%a %Y-%m-%d %H:%M %Z").to_string()
    }

    /// Asks the policy about another permission on this patient (the caller already
    /// passed the one [`open`] checked).
    pub async fn authorize(&self, tx: &TenantTx, permission: Permission, sensitive: bool) -> AppResult<()> {
        let facts = PatientFacts { sensitive, ..self.facts };
        tx.authorize(permission, Target::Patient(facts), "patient").await
    }

    /// Whether the policy would allow `permission` here, without recording a denial: for
    /// showing or hiding a button, never for guarding data.
    pub fn allows(&self, tx: &TenantTx, permission: Permission) -> bool {
        self.allows_for(tx, permission, false)
    }

    /// [`Chart::allows`] for content that is (or is not) in a sensitive category.
    pub(crate) fn allows_for(&self, tx: &TenantTx, permission: Permission, sensitive: bool) -> bool {
        let context = tx.context().policy(tx.now());
        policy::may(&context, permission, Target::Patient(PatientFacts { sensitive, ..self.facts }))
            .is_allowed()
    }

    /// The audit event of a section's answer about this patient (`purpose` names the
    /// section, "chart.allergies").
    pub fn event(&self, action: Action, purpose: &str) -> AuditEvent {
        AuditEvent::success(action, "patient", self.id()).patient(self.id()).purpose(purpose)
    }

    /// A section's answer to a form it refuses: the section again with what was wrong, as
    /// 422, its read of the patient on record under `purpose`.
    pub async fn refused<S>(
        &self,
        tx: &TenantTx,
        section: &'static str,
        purpose: &str,
        body: S,
    ) -> AppResult<Response>
    where
        S: Template + Send + Sync + 'static,
    {
        tx.audit(&self.event(Action::Read, purpose)).await?;
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Framed(self.frame(section), body)).into_response())
    }

    /// The frame around `section` (the route pattern its tab was declared with; that tab
    /// marked current).
    pub fn frame(&self, section: &'static str) -> ChartFrame {
        ChartFrame { header: self.header.clone(), section, tabs: self.tabs.clone() }
    }
}

/// The page around a chart section; the section arrives as the `section_html` value.
#[derive(Template)]
#[template(path = "chart/frame.html")]
pub struct ChartFrame {
    pub header: ChartHeader,
    /// The current tab's route pattern.
    pub section: &'static str,
    tabs: ChartTabs,
}

impl ChartFrame {
    /// Each tab: its address for this patient, its label, whether it is the current one.
    fn sections(&self) -> Vec<(String, &'static str, bool)> {
        self.tabs
            .tabs()
            .iter()
            .map(|tab| (tab.href(&self.header.patient_id.to_string()), tab.label, tab.path == self.section))
            .collect()
    }
}

/// The header's allergy line from "severity:substance" entries, the most severe first.
fn allergy_line(entries: &[String], none_known: bool) -> AllergyLine {
    if entries.is_empty() {
        return if none_known { AllergyLine::NoneKnown } else { AllergyLine::NotRecorded };
    }
    let severe = entries.iter().any(|e| e.starts_with("severe:"));
    let entries = entries
        .iter()
        .map(|entry| match entry.split_once(':') {
            Some(("unknown", substance)) => substance.to_owned(),
            Some((severity, substance)) => format!("{substance} ({severity})"),
            None => entry.clone(),
        })
        .collect();
    AllergyLine::Listed { entries, severe }
}

/// Opens patient `id` for `permission`: 404 (audited) when it does not exist in this
/// clinic or is hidden from this context, 403 when the role never has the permission.
pub async fn open(tx: &TenantTx, id: &str, permission: Permission) -> AppResult<Chart> {
    // The chart is the registry's tool: a context that cannot use the registry (patients
    // and proxies, who use the portal; the call center, who get the screen-pop) never
    // opens a chart, whatever section it asks for. Refused with an audited 403. A super
    // admin's break-glass opens its one chart (the patient is checked below) and never
    // the registry.
    if !matches!(tx.context().principal, policy::Principal::SuperAdmin { break_glass: Some(_) }) {
        tx.authorize(Permission::SearchPatients, Target::Organization, "chart").await?;
    }
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let user = tx.context().tenant.person().map(|u| u.as_uuid());
    let row = {
        let mut db = tx.conn().await?;
        sqlx::query!(
            r#"SELECT p.given_name, p.family_name, p.preferred_name, p.date_of_birth, p.mrn, p.legal_sex,
                      p.is_self_managed, p.user_id IS NOT NULL AS "has_portal!", p.confidential_communication,
                      p.confidential_note,
                      EXISTS (SELECT 1 FROM care_team_members c
                                JOIN providers pr ON pr.organization_id = c.organization_id AND pr.id = c.provider_id
                               WHERE c.patient_id = p.id AND c.removed_at IS NULL AND pr.user_id = $2) AS "on_care_team!",
                      (SELECT count(*) FROM contact_methods m WHERE m.patient_id = p.id AND m.deleted_at IS NULL
                          AND (m.is_safe_for_voicemail OR m.is_safe_for_sms OR m.is_safe_for_email)) AS "safe_contacts!",
                      (SELECT count(*) FROM contact_methods m WHERE m.patient_id = p.id AND m.deleted_at IS NULL) AS "contacts!",
                      (SELECT count(*) FROM patient_proxy_assignments a WHERE a.patient_id = p.id AND a.status = 'active'
                          AND (a.expires_at IS NULL OR a.expires_at > now())) AS "active_proxies!",
                      (SELECT u.display_name || ', ' || pr.credentials
                              FROM care_team_members c
                              JOIN providers pr ON pr.organization_id = c.organization_id AND pr.id = c.provider_id
                              JOIN users u ON u.id = pr.user_id
                             WHERE c.patient_id = p.id AND c.removed_at IS NULL AND c.role = 'primary') AS "primary?",
                      ARRAY(SELECT u.display_name || ' (' || c.role || ')'
                              FROM care_team_members c
                              JOIN providers pr ON pr.organization_id = c.organization_id AND pr.id = c.provider_id
                              JOIN users u ON u.id = pr.user_id
                             WHERE c.patient_id = p.id AND c.removed_at IS NULL AND c.role <> 'primary'
                             ORDER BY u.display_name) AS "care_team!",
                      ARRAY(SELECT a.severity || ':' || a.substance FROM allergies a
                             WHERE a.patient_id = p.id AND a.ended_at IS NULL
                             ORDER BY array_position(ARRAY['severe', 'moderate', 'mild', 'unknown'], a.severity),
                                      lower(a.substance)) AS "allergies!",
                      p.no_known_allergies_at IS NOT NULL AS "no_known_allergies!"
                 FROM patients p
                WHERE p.id = $1 AND p.deleted_at IS NULL"#,
            id.as_uuid(),
            user
        )
        .fetch_optional(&mut *db)
        .await?
    };
    let Some(row) = row else { return Err(tx.not_found("patient", id.as_uuid()).await) };
    let facts = PatientFacts { patient_id: id, on_care_team: row.on_care_team, sensitive: false };
    tx.authorize(permission, Target::Patient(facts), "patient").await?;
    tx.disclosed(id).await;
    let context = tx.context().policy(tx.now());
    let may_read_summary =
        policy::may(&context, Permission::ViewClinicalSummary, Target::Patient(facts)).is_allowed();
    let allergies = may_read_summary.then(|| allergy_line(&row.allergies, row.no_known_allergies));
    let timezone = tx.context().timezone;
    let today = tx.now().with_timezone(&timezone).date_naive();
    let header = ChartHeader {
        patient_id: id,
        age: age_on(row.date_of_birth, today),
        given_name: row.given_name,
        family_name: row.family_name,
        preferred_name: row.preferred_name,
        date_of_birth: row.date_of_birth,
        mrn: row.mrn,
        sex: sex_label(&row.legal_sex),
        is_dependent: !row.is_self_managed,
        has_portal: row.has_portal,
        confidential_communication: row.confidential_communication,
        confidential_note: row.confidential_note,
        safe_contacts: row.safe_contacts,
        contacts: row.contacts,
        active_proxies: row.active_proxies,
        primary: row.primary,
        care_team: row.care_team,
        allergies,
    };
    Ok(Chart { header, facts, timezone, tabs: tx.chart_tabs().clone() })
}
