//! Contexts: the (clinic, role) pairs a person can act in, and the check that a claimed
//! context still holds — done inside every tenant transaction, so a revoked membership,
//! a revoked or expired proxy grant, or a suspended clinic stops access on the very next
//! request.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action, AuditEvent};
use crate::auth::policy::{ChartAccess, PlatformRole, Principal, ProxyScopes, StaffRole};
use crate::auth::session::ContextClaim;
use crate::db::ids::{ConsentDocumentId, OrganizationId, PatientId, UserId};
use crate::db::tenant::{RequestMeta, SystemContext, TenantContext, begin_system, begin_tenant};

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

/// Every context `user` holds today, clinics first (by name), then platform roles.
pub async fn list(
    pool: &sqlx::PgPool,
    user: UserId,
    request: &RequestMeta,
    now: DateTime<Utc>,
) -> Result<Vec<ContextOption>, sqlx::Error> {
    let mut tx = begin_system(pool, &SystemContext { user_id: Some(user), request: request.clone() }).await?;
    let rows = sqlx::query!(
        r#"SELECT uc.organization_id AS "organization_id: OrganizationId", o.name, uc.kind, uc.role,
                  uc.patient_id AS "patient_id: PatientId"
             FROM user_contexts uc JOIN organizations o ON o.id = uc.organization_id
            WHERE uc.user_id = $1 AND uc.active AND o.status = 'active' AND o.deleted_at IS NULL
            ORDER BY o.name, uc.kind, uc.role"#,
        user.as_uuid()
    )
    .fetch_all(&mut *tx)
    .await?;
    let platform = sqlx::query_scalar!(
        "SELECT role FROM platform_roles WHERE user_id = $1 AND revoked_at IS NULL ORDER BY role",
        user.as_uuid()
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

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
    name_patients(pool, user, request, now, &mut options).await?;
    // A proxy grant that has expired (a minor come of age) is no longer offered.
    options.retain(|o| !matches!(o.claim, ContextClaim::Proxy { .. }) || o.patient_name.is_some());
    options.extend(platform.iter().filter_map(|r| PlatformRole::parse(r)).map(|role| ContextOption {
        claim: ContextClaim::Platform { role },
        organization: None,
        role_label: role.label().to_owned(),
        patient_name: None,
    }));
    Ok(options)
}

/// Fills in the names of the patients of patient and proxy contexts, one clinic at a time
/// (reading a name is reading PHI: audited, and only where the grant is current).
async fn name_patients(
    pool: &sqlx::PgPool,
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
        let mut tx = begin_tenant(pool, &context).await?;
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
                &mut tx,
                &context,
                &AuditEvent::success(Action::Read, "patient", row.id)
                    .patient(row.id)
                    .purpose("context_picker"),
            )
            .await?;
            for option in options.iter_mut() {
                let matches = match option.claim {
                    ContextClaim::Patient { organization_id, patient_id } => {
                        organization_id == context.organization_id && patient_id == row.id && row.is_self
                    }
                    ContextClaim::Proxy { organization_id, patient_id } => {
                        organization_id == context.organization_id && patient_id == row.id
                    }
                    _ => false,
                };
                if matches {
                    option.patient_name = Some(format!("{} {}", row.given_name, row.family_name));
                }
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

/// What a claim resolves to when it still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub principal: Principal,
    pub chart_access: ChartAccess,
}

/// Checks `claim` for `user` inside a transaction already scoped to the claim's clinic.
/// `None`: the context no longer exists (membership ended, grant revoked or expired,
/// clinic suspended).
pub async fn resolve(
    conn: &mut PgConnection,
    user: UserId,
    claim: ContextClaim,
    now: DateTime<Utc>,
) -> Result<Option<Resolved>, sqlx::Error> {
    let chart_access = |setting: Option<String>| match setting.as_deref() {
        Some("care_team_only") => ChartAccess::CareTeamOnly,
        _ => ChartAccess::AllStaff,
    };
    Ok(match claim {
        ContextClaim::Staff { role, .. } => sqlx::query_scalar!(
            r#"SELECT o.settings ->> 'chart_access' AS chart_access
                 FROM memberships m JOIN organizations o ON o.id = m.organization_id
                WHERE m.user_id = $1 AND m.role = $2 AND m.status = 'active' AND o.status = 'active'"#,
            user.as_uuid(),
            role.as_str()
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|setting| Resolved { principal: Principal::Staff(role), chart_access: chart_access(setting) }),
        ContextClaim::Patient { patient_id, .. } => sqlx::query_scalar!(
            r#"SELECT o.settings ->> 'chart_access' AS chart_access
                 FROM patients p JOIN organizations o ON o.id = p.organization_id
                WHERE p.id = $1 AND p.user_id = $2 AND p.deleted_at IS NULL AND o.status = 'active'"#,
            patient_id.as_uuid(),
            user.as_uuid()
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|setting| Resolved { principal: Principal::Patient { patient_id }, chart_access: chart_access(setting) }),
        ContextClaim::Proxy { patient_id, .. } => sqlx::query!(
            r#"SELECT a.can_view_clinical, a.can_view_billing, a.can_schedule, a.can_message, a.expires_at,
                      o.settings ->> 'chart_access' AS chart_access
                 FROM patient_proxy_assignments a JOIN organizations o ON o.id = a.organization_id
                WHERE a.patient_id = $1 AND a.proxy_user_id = $2 AND a.status = 'active'
                  AND a.starts_at <= $3 AND (a.expires_at IS NULL OR a.expires_at > $3) AND o.status = 'active'"#,
            patient_id.as_uuid(),
            user.as_uuid(),
            now
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|row| Resolved {
            principal: Principal::Proxy {
                patient_id,
                scopes: ProxyScopes {
                    clinical: row.can_view_clinical,
                    billing: row.can_view_billing,
                    scheduling: row.can_schedule,
                    messaging: row.can_message,
                },
                expires_at: row.expires_at,
            },
            chart_access: chart_access(row.chart_access),
        }),
        ContextClaim::Platform { .. } => None,
    })
}

/// A consent document the person must accept before using a context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredConsent {
    pub id: ConsentDocumentId,
    pub title: String,
    pub version: String,
    pub body: String,
}

/// The current terms of service, and for a clinic context the clinic's current notice of
/// privacy practices, that `user` has not accepted. Runs in the context's transaction
/// (tenant, or system for platform roles).
pub async fn missing_consents(
    conn: &mut PgConnection,
    user: UserId,
    organization: Option<OrganizationId>,
    now: DateTime<Utc>,
) -> Result<Vec<RequiredConsent>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT d.id AS "id: ConsentDocumentId", d.title, d.version, d.body
             FROM (SELECT DISTINCT ON (organization_id, kind) id, title, version, body
                     FROM consent_documents
                    WHERE effective_at <= $3
                      AND ((organization_id IS NULL AND kind = 'terms_of_service')
                           OR (organization_id = $2 AND kind = 'privacy_notice'))
                    ORDER BY organization_id, kind, effective_at DESC, created_at DESC) d
            WHERE NOT EXISTS (SELECT 1 FROM consents c
                               WHERE c.document_id = d.id AND c.user_id = $1 AND c.withdrawn_at IS NULL)
            ORDER BY d.title"#,
        user.as_uuid(),
        organization.map(|o| o.as_uuid()),
        now
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RequiredConsent { id: r.id, title: r.title, version: r.version, body: r.body })
        .collect())
}

/// Records acceptance of `documents` (version, time, address, user agent).
pub async fn accept(
    conn: &mut PgConnection,
    user: UserId,
    documents: &[ConsentDocumentId],
    request: &RequestMeta,
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = documents.iter().map(|d| d.as_uuid()).collect();
    sqlx::query!(
        r#"INSERT INTO consents (organization_id, user_id, document_id, ip, user_agent)
           SELECT d.organization_id, $1, d.id, $3::text::inet, $4 FROM consent_documents d WHERE d.id = ANY($2)"#,
        user.as_uuid(),
        &ids,
        request.ip.map(|ip| ip.to_string()),
        request.user_agent.as_deref()
    )
    .execute(conn)
    .await?;
    Ok(())
}
