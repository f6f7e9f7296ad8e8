//! Contexts: the (clinic, role) pairs a person can act in, and the check that a claimed
//! context still holds — done inside every tenant transaction, so a revoked membership,
//! a revoked or expired proxy grant, or a suspended clinic stops access on the very next
//! request.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action, AuditEvent};
use crate::auth::policy::{ChartAccess, Module, PlatformRole, Principal, ProxyScopes, StaffRole};
use crate::auth::session::ContextClaim;
use crate::auth::session_store::Account;
use crate::db::ids::{ConsentDocumentId, OrganizationId, PatientId, UserId};
use crate::db::tenant::{RequestMeta, TenantContext, scoped};

/// One context offered after sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextOption {
    pub claim: ContextClaim,
    /// The clinic's name (none for platform roles).
    pub organization: Option<String>,
    /// "Provider", "Patient", "Parent of …".
    pub role_label: String,
    /// The patient acted for, for patient and proxy contexts.
    pub patient_name: Option<String>,
}

/// The clinics `user` has a role or portal access at that are suspended (the context
/// picker says so, instead of offering nothing without a reason).
pub async fn suspended_clinics(conn: &mut PgConnection, user: UserId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT o.name FROM user_contexts uc JOIN organizations o ON o.id = uc.organization_id
            WHERE uc.user_id = $1 AND uc.active AND o.status = 'suspended' AND o.deleted_at IS NULL
            ORDER BY o.name"#,
        user.as_uuid()
    )
    .fetch_all(conn)
    .await
}

/// Every context `user` holds at `now`, clinics first (by name), then platform roles,
/// without the names of the patients they are for. A proxy grant outside its window is
/// not offered, so what is offered is what `resolve` accepts.
pub async fn offered(
    conn: &mut PgConnection,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Vec<ContextOption>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT uc.organization_id AS "organization_id: OrganizationId", o.name, uc.kind, uc.role,
                  uc.patient_id AS "patient_id: PatientId"
             FROM user_contexts uc JOIN organizations o ON o.id = uc.organization_id
            WHERE uc.user_id = $1 AND uc.active AND o.status = 'active' AND o.deleted_at IS NULL
              -- Patients and proxies enter a clinic only through its portal.
              AND (uc.kind = 'staff' OR NOT 'patient_portal' = ANY(o.disabled_modules))
              AND (uc.starts_at IS NULL OR uc.starts_at <= $2) AND (uc.expires_at IS NULL OR uc.expires_at > $2)
            ORDER BY o.name, uc.kind, uc.role"#,
        user.as_uuid(),
        now
    )
    .fetch_all(&mut *conn)
    .await?;
    let platform = sqlx::query_scalar!(
        "SELECT role FROM platform_roles WHERE user_id = $1 AND revoked_at IS NULL ORDER BY role",
        user.as_uuid()
    )
    .fetch_all(&mut *conn)
    .await?;

    let mut options = Vec::new();
    for row in rows {
        let claim = match (row.kind.as_str(), row.role.as_deref().and_then(StaffRole::parse), row.patient_id)
        {
            ("staff", Some(role), _) => ContextClaim::Staff { organization_id: row.organization_id, role },
            ("patient", _, Some(patient_id)) => {
                ContextClaim::Patient { organization_id: row.organization_id, patient_id }
            }
            ("proxy", _, Some(patient_id)) => {
                ContextClaim::Proxy { organization_id: row.organization_id, patient_id }
            }
            _ => continue,
        };
        options.push(ContextOption {
            claim,
            organization: Some(row.name),
            role_label: match claim {
                ContextClaim::Staff { role, .. } => role.label().to_owned(),
                ContextClaim::Patient { .. } => "Patient".to_owned(),
                _ => "Acting for a patient".to_owned(),
            },
            patient_name: None,
        });
    }
    options.extend(platform.iter().filter_map(|r| PlatformRole::parse(r)).map(|role| ContextOption {
        claim: ContextClaim::Platform { role },
        organization: None,
        role_label: role.label().to_owned(),
        patient_name: None,
    }));
    Ok(options)
}

/// [`offered`] with the names of the patients of patient and proxy contexts (for the
/// context picker). A proxy grant that has expired (a minor come of age) is no longer
/// offered.
pub async fn list(
    conn: &mut PgConnection,
    user: UserId,
    request: &RequestMeta,
    now: DateTime<Utc>,
) -> Result<Vec<ContextOption>, sqlx::Error> {
    let mut options = offered(conn, user, now).await?;
    name_patients(conn, user, request, now, &mut options).await?;
    options.retain(|o| !matches!(o.claim, ContextClaim::Proxy { .. }) || o.patient_name.is_some());
    Ok(options)
}

/// Fills in the names of the patients of patient and proxy contexts, one clinic at a time
/// (reading a name is reading PHI: audited in that clinic, and only where the grant is
/// current).
async fn name_patients(
    conn: &mut PgConnection,
    user: UserId,
    request: &RequestMeta,
    now: DateTime<Utc>,
    options: &mut [ContextOption],
) -> Result<(), sqlx::Error> {
    let mut organizations: Vec<OrganizationId> = options
        .iter()
        .filter(|o| matches!(o.claim, ContextClaim::Patient { .. } | ContextClaim::Proxy { .. }))
        .filter_map(|o| o.claim.organization_id())
        .collect();
    organizations.sort();
    organizations.dedup();
    for organization_id in organizations {
        let context = TenantContext {
            user_id: Some(user),
            request: request.clone(),
            role: Some("context_picker".into()),
            actor_kind: crate::db::tenant::ActorKind::User,
            ..TenantContext::system(organization_id)
        };
        let rows = scoped(conn, &context, async |tx| {
            let rows = sqlx::query!(
                r#"SELECT p.id AS "id: PatientId", p.given_name, p.family_name, (p.user_id IS NOT DISTINCT FROM $1) AS "is_self!"
                     FROM patients p
                    WHERE p.deleted_at IS NULL
                      AND (p.user_id = $1 OR EXISTS (
                            SELECT 1 FROM patient_proxy_assignments a
                             WHERE a.patient_id = p.id AND a.proxy_user_id = $1 AND a.status = 'active'
                               AND a.starts_at <= $2 AND (a.expires_at IS NULL OR a.expires_at > $2)))"#,
                user.as_uuid(),
                now
            )
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                audit::record(
                    &mut *tx,
                    &context,
                    &AuditEvent::success(Action::Read, "patient", row.id).patient(row.id).purpose("context_picker"),
                )
                .await?;
            }
            Ok(rows)
        })
        .await?;
        for row in &rows {
            for option in options.iter_mut() {
                let matches = match option.claim {
                    ContextClaim::Patient { organization_id: org, patient_id } => {
                        org == organization_id && patient_id == row.id && row.is_self
                    }
                    ContextClaim::Proxy { organization_id: org, patient_id } => {
                        org == organization_id && patient_id == row.id
                    }
                    _ => false,
                };
                if matches {
                    option.patient_name = Some(format!("{} {}", row.given_name, row.family_name));
                }
            }
        }
    }
    Ok(())
}

/// What a claim resolves to when it still holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub principal: Principal,
    pub chart_access: ChartAccess,
    /// The clinic's timezone (an IANA name, checked when it was saved).
    pub clinic_timezone: String,
    /// The person's own timezone, when they set one; times are shown in it.
    pub viewer_timezone: Option<String>,
    /// The clinic's idle limit for its contexts, if it shortened the default: read on
    /// every request, so a change reaches sessions already open.
    pub idle_minutes: Option<i32>,
    /// The parts of the product the clinic switched off, as they are now.
    pub disabled_modules: Vec<Module>,
    /// The live emergency access (break-glass) of this context: the patient, until when.
    pub break_glass: Option<(PatientId, DateTime<Utc>)>,
}

/// The facts every claim reads with its own check, in the same statement.
struct Common {
    chart_access: Option<String>,
    clinic_timezone: String,
    viewer_timezone: Option<String>,
    idle_minutes: Option<i32>,
    disabled_modules: Vec<String>,
}

impl Common {
    fn resolved(self, principal: Principal) -> Resolved {
        Resolved {
            principal,
            chart_access: match self.chart_access.as_deref() {
                Some("care_team_only") => ChartAccess::CareTeamOnly,
                _ => ChartAccess::AllStaff,
            },
            clinic_timezone: self.clinic_timezone,
            viewer_timezone: self.viewer_timezone,
            idle_minutes: self.idle_minutes,
            disabled_modules: Module::parse_all(&self.disabled_modules),
            break_glass: None,
        }
    }
}

/// Checks `claim` for `user` inside a transaction already scoped to the claim's clinic.
/// `None`: the context no longer exists (membership ended, grant revoked or expired,
/// clinic suspended, account disabled, or for a patient or a proxy, the clinic's portal
/// switched off).
pub(crate) async fn resolve(
    conn: &mut PgConnection,
    user: UserId,
    claim: ContextClaim,
    now: DateTime<Utc>,
) -> Result<Option<Resolved>, sqlx::Error> {
    Ok(match claim {
        // A member's live break-glass (one at a time) is read in the same statement.
        ContextClaim::Staff { role, .. } => sqlx::query!(
            r#"SELECT o.settings ->> 'chart_access' AS chart_access, o.timezone AS clinic_timezone,
                      u.timezone AS viewer_timezone, (o.settings ->> 'session_idle_minutes')::int AS idle_minutes,
                      o.disabled_modules, bg.patient_id AS "break_glass_patient?: PatientId",
                      bg.expires_at AS "break_glass_until?"
                 FROM memberships m JOIN organizations o ON o.id = m.organization_id
                 JOIN users u ON u.id = m.user_id
                 LEFT JOIN LATERAL (
                      SELECT g.patient_id, g.expires_at FROM break_glass_grants g
                       WHERE g.organization_id = m.organization_id AND g.user_id = m.user_id AND g.via = 'staff'
                         AND g.ended_at IS NULL AND g.expires_at > $3
                       ORDER BY g.expires_at DESC LIMIT 1) bg ON true
                WHERE m.user_id = $1 AND m.role = $2 AND m.status = 'active' AND o.status = 'active'
                  AND u.disabled_at IS NULL AND u.deleted_at IS NULL"#,
            user.as_uuid(),
            role.as_str(),
            now
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| {
            let break_glass = r.break_glass_patient.zip(r.break_glass_until);
            let mut resolved = Common {
                chart_access: r.chart_access,
                clinic_timezone: r.clinic_timezone,
                viewer_timezone: r.viewer_timezone,
                idle_minutes: r.idle_minutes,
                disabled_modules: r.disabled_modules,
            }
            .resolved(Principal::Staff(role));
            resolved.break_glass = break_glass;
            resolved
        }),
        ContextClaim::Patient { patient_id, .. } => sqlx::query!(
            r#"SELECT o.settings ->> 'chart_access' AS chart_access, o.timezone AS clinic_timezone,
                      u.timezone AS viewer_timezone, (o.settings ->> 'session_idle_minutes')::int AS idle_minutes,
                      o.disabled_modules
                 FROM patients p JOIN organizations o ON o.id = p.organization_id
                 JOIN users u ON u.id = p.user_id
                WHERE p.id = $1 AND p.user_id = $2 AND p.deleted_at IS NULL AND o.status = 'active'
                  AND NOT 'patient_portal' = ANY(o.disabled_modules)
                  AND u.disabled_at IS NULL AND u.deleted_at IS NULL"#,
            patient_id.as_uuid(),
            user.as_uuid()
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| {
            Common {
                chart_access: r.chart_access,
                clinic_timezone: r.clinic_timezone,
                viewer_timezone: r.viewer_timezone,
                idle_minutes: r.idle_minutes,
                disabled_modules: r.disabled_modules,
            }
            .resolved(Principal::Patient { patient_id })
        }),
        ContextClaim::Proxy { patient_id, .. } => sqlx::query!(
            r#"SELECT a.can_view_clinical, a.can_view_billing, a.can_schedule, a.can_message, a.expires_at,
                      o.settings ->> 'chart_access' AS chart_access, o.timezone AS clinic_timezone,
                      u.timezone AS viewer_timezone, (o.settings ->> 'session_idle_minutes')::int AS idle_minutes,
                      o.disabled_modules
                 FROM patient_proxy_assignments a JOIN organizations o ON o.id = a.organization_id
                 JOIN users u ON u.id = a.proxy_user_id
                 -- A patient removed from the registry is nobody's to act for.
                 JOIN patients p ON p.organization_id = a.organization_id AND p.id = a.patient_id
                                AND p.deleted_at IS NULL
                WHERE a.patient_id = $1 AND a.proxy_user_id = $2 AND a.status = 'active'
                  AND a.starts_at <= $3 AND (a.expires_at IS NULL OR a.expires_at > $3) AND o.status = 'active'
                  AND NOT 'patient_portal' = ANY(o.disabled_modules)
                  AND u.disabled_at IS NULL AND u.deleted_at IS NULL"#,
            patient_id.as_uuid(),
            user.as_uuid(),
            now
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| {
            let principal = Principal::Proxy {
                patient_id,
                scopes: ProxyScopes {
                    clinical: r.can_view_clinical,
                    billing: r.can_view_billing,
                    scheduling: r.can_schedule,
                    messaging: r.can_message,
                },
                expires_at: r.expires_at,
            };
            Common {
                chart_access: r.chart_access,
                clinic_timezone: r.clinic_timezone,
                viewer_timezone: r.viewer_timezone,
                idle_minutes: r.idle_minutes,
                disabled_modules: r.disabled_modules,
            }
            .resolved(principal)
        }),
        // A super admin's break-glass holds while its grant is live and they still hold
        // the role (platform roles of the person themselves are visible in a clinic).
        ContextClaim::BreakGlass { patient_id, .. } => sqlx::query!(
            r#"SELECT o.settings ->> 'chart_access' AS chart_access, o.timezone AS clinic_timezone,
                      u.timezone AS viewer_timezone, (o.settings ->> 'session_idle_minutes')::int AS idle_minutes,
                      o.disabled_modules, g.expires_at
                 FROM break_glass_grants g JOIN organizations o ON o.id = g.organization_id
                 JOIN users u ON u.id = g.user_id
                WHERE g.user_id = $1 AND g.patient_id = $2 AND g.via = 'platform'
                  AND g.ended_at IS NULL AND g.expires_at > $3 AND o.status = 'active'
                  AND u.disabled_at IS NULL AND u.deleted_at IS NULL
                  AND EXISTS (SELECT 1 FROM platform_roles r
                               WHERE r.user_id = g.user_id AND r.role = 'super_admin' AND r.revoked_at IS NULL)
                ORDER BY g.expires_at DESC LIMIT 1"#,
            user.as_uuid(),
            patient_id.as_uuid(),
            now
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| {
            let mut resolved = Common {
                chart_access: r.chart_access,
                clinic_timezone: r.clinic_timezone,
                viewer_timezone: r.viewer_timezone,
                idle_minutes: r.idle_minutes,
                disabled_modules: r.disabled_modules,
            }
            .resolved(Principal::SuperAdmin { break_glass: Some((patient_id, r.expires_at)) });
            resolved.break_glass = Some((patient_id, r.expires_at));
            resolved
        }),
        ContextClaim::Platform { .. } => None,
    })
}

/// Whether an impersonation still holds, in the transaction scoped to its clinic: its
/// record not ended, and the administrator still an active administrator there.
pub(crate) async fn impersonation_holds(
    conn: &mut PgConnection,
    record: Uuid,
    administrator: UserId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM impersonations i
                 JOIN memberships m ON m.organization_id = i.organization_id AND m.user_id = i.user_id
                WHERE i.id = $1 AND i.user_id = $2 AND i.ended_at IS NULL
                  AND m.role = 'org_admin' AND m.status = 'active') AS "holds!""#,
        record,
        administrator.as_uuid()
    )
    .fetch_one(conn)
    .await
}

/// Whether a signed-in person may still act outside a clinic (their account, the context
/// picker, the platform's pages), checked on each such request as `resolve` checks clinic
/// contexts inside the tenant transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Good,
    /// Disabled or deleted: the session ends.
    AccountClosed,
    /// The claimed platform role was revoked: choose another context.
    RoleRevoked,
}

/// The person's standing for `claim`, from what was read with their session (one query
/// per request, see `auth::session_store::Account`).
pub fn standing(account: &Account, claim: Option<ContextClaim>) -> Standing {
    let role_held = match claim {
        Some(ContextClaim::Platform { role }) => {
            account.platform_roles.iter().any(|held| held == role.as_str())
        }
        Some(ContextClaim::BreakGlass { .. }) => {
            account.platform_roles.iter().any(|held| held == PlatformRole::SuperAdmin.as_str())
        }
        _ => true,
    };
    match (account.open, role_held) {
        (true, true) => Standing::Good,
        (true, false) => Standing::RoleRevoked,
        (false, _) => Standing::AccountClosed,
    }
}

/// A consent document the person must accept before using a context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequiredConsent {
    pub id: ConsentDocumentId,
    pub title: String,
    pub version: String,
    pub body: String,
}

/// The current terms of service, and for a clinic context the clinic's current notice of
/// privacy practices (and for a patient or a proxy, its current consent to treatment),
/// that `user` has not accepted. Runs in the context's transaction (tenant, or system for
/// platform roles). A newly published version is current once effective, so people are
/// asked again at their next context entry.
pub(crate) async fn missing_consents(
    conn: &mut PgConnection,
    user: UserId,
    claim: ContextClaim,
    now: DateTime<Utc>,
) -> Result<Vec<RequiredConsent>, sqlx::Error> {
    let organization = claim.organization_id();
    let patient = claim.patient_id();
    let rows = sqlx::query!(
        r#"SELECT d.id AS "id: ConsentDocumentId", d.title, d.version, d.body
             FROM (SELECT DISTINCT ON (organization_id, kind) id, kind, title, version, body
                     FROM consent_documents
                    WHERE effective_at <= $3
                      AND ((organization_id IS NULL AND kind = 'terms_of_service')
                           OR (organization_id = $2 AND kind = 'privacy_notice')
                           OR (organization_id = $2 AND kind = 'treatment' AND $4::uuid IS NOT NULL))
                    ORDER BY organization_id, kind, effective_at DESC, created_at DESC) d
            WHERE NOT EXISTS (SELECT 1 FROM consents c
                               WHERE c.document_id = d.id AND c.user_id = $1 AND c.withdrawn_at IS NULL
                                 AND (d.kind <> 'treatment' OR c.patient_id = $4))
            ORDER BY d.title"#,
        user.as_uuid(),
        organization.map(|o| o.as_uuid()),
        now,
        patient.map(|p| p.as_uuid())
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RequiredConsent { id: r.id, title: r.title, version: r.version, body: r.body })
        .collect())
}

/// Records acceptance of `documents` (version, time, address, user agent). A consent to
/// treatment is given for the context's patient (a parent consents for each child).
pub async fn accept(
    conn: &mut PgConnection,
    user: UserId,
    claim: ContextClaim,
    documents: &[ConsentDocumentId],
    request: &RequestMeta,
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = documents.iter().map(|d| d.as_uuid()).collect();
    sqlx::query!(
        r#"INSERT INTO consents (organization_id, user_id, document_id, ip, user_agent, patient_id)
           SELECT d.organization_id, $1, d.id, $3::text::inet, $4, CASE WHEN d.kind = 'treatment' THEN $5::uuid END
             FROM consent_documents d WHERE d.id = ANY($2)"#,
        user.as_uuid(),
        &ids,
        request.ip.map(|ip| ip.to_string()),
        request.user_agent.as_deref(),
        claim.patient_id().map(|p| p.as_uuid())
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A clinic's name (inside its scope, or outside any).
pub(crate) async fn clinic_name(
    conn: &mut PgConnection,
    clinic: OrganizationId,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!("SELECT name FROM organizations WHERE id = $1", clinic.as_uuid())
        .fetch_one(conn)
        .await
}
