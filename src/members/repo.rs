use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::auth::policy::StaffRole;
use crate::db::ids::{MemberApprovalId, MembershipId, OrganizationId, UserId};

pub(crate) struct Member {
    pub id: MembershipId,
    pub role: String,
    pub user_id: UserId,
    pub status: String,
    pub display_name: String,
    pub email: String,
    /// Told of every emergency access (break-glass) to the clinic's records.
    pub is_privacy_officer: bool,
}

pub(crate) struct PendingInvitation {
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn clinic_name(db: &mut PgConnection, clinic: OrganizationId) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!("SELECT name FROM organizations WHERE id = $1", clinic.as_uuid()).fetch_one(db).await
}

pub async fn user_name(db: &mut PgConnection, user: UserId) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!("SELECT display_name FROM users WHERE id = $1", user.as_uuid()).fetch_one(db).await
}

/// Every membership of the clinic but invitations cancelled before anyone accepted them
/// (nothing to show or do: inviting the person again reuses the row); an invited person
/// is named as the inviter typed them.
pub async fn members(db: &mut PgConnection) -> Result<Vec<Member>, sqlx::Error> {
    sqlx::query_as!(
        Member,
        r#"SELECT m.id AS "id: MembershipId", m.role, m.user_id AS "user_id: UserId", m.status,
                  CASE WHEN m.accepted_at IS NULL THEN coalesce(m.invited_name, u.email::text) ELSE u.display_name END
                      AS "display_name!",
                  u.email::text AS "email!", m.is_privacy_officer
             FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE NOT (m.status = 'suspended' AND m.accepted_at IS NULL)
            ORDER BY 5, m.role"#
    )
    .fetch_all(db)
    .await
}

/// One membership as the list shows it.
pub async fn find(db: &mut PgConnection, id: MembershipId) -> Result<Option<Member>, sqlx::Error> {
    sqlx::query_as!(
        Member,
        r#"SELECT m.id AS "id: MembershipId", m.role, m.user_id AS "user_id: UserId", m.status,
                  CASE WHEN m.accepted_at IS NULL THEN coalesce(m.invited_name, u.email::text) ELSE u.display_name END
                      AS "display_name!",
                  u.email::text AS "email!", m.is_privacy_officer
             FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.id = $1"#,
        id.as_uuid()
    )
    .fetch_optional(db)
    .await
}

/// A person's memberships here: (role, status, accepted once).
pub async fn standing(
    db: &mut PgConnection,
    person: UserId,
) -> Result<Vec<(String, String, bool)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT role, status, accepted_at IS NOT NULL AS "accepted!" FROM memberships WHERE user_id = $1"#,
        person.as_uuid()
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.role, r.status, r.accepted)).collect())
}

/// The roles a person is invited to here and has not accepted yet.
pub async fn invited_roles(db: &mut PgConnection, person: UserId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT role FROM memberships WHERE user_id = $1 AND status = 'invited' ORDER BY role",
        person.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// Ends the person's open staff invitations to this clinic (their links stop working;
/// the transaction names the clinic, so another clinic's stay).
pub async fn revoke_invitations(
    db: &mut PgConnection,
    person: UserId,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE auth_tokens SET revoked_at = $2
          WHERE user_id = $1 AND purpose = 'staff_invitation' AND used_at IS NULL AND revoked_at IS NULL
            AND organization_id = nullif(current_setting('app.organization_id', true), '')::uuid",
        person.as_uuid(),
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Staff invitations still open, newest first.
pub async fn pending_invitations(db: &mut PgConnection) -> Result<Vec<PendingInvitation>, sqlx::Error> {
    sqlx::query_as!(
        PendingInvitation,
        r#"SELECT email::text AS "email!", expires_at FROM auth_tokens
            WHERE purpose = 'staff_invitation' AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
            ORDER BY created_at DESC"#
    )
    .fetch_all(db)
    .await
}

/// An invited membership in `role`: a new one, or an invitation cancelled earlier made
/// open again. Nothing when the person holds the role here already (the caller checks).
pub async fn invite(
    db: &mut PgConnection,
    clinic: OrganizationId,
    person: UserId,
    role: StaffRole,
    invited_by: Option<UserId>,
    invited_name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO memberships (organization_id, user_id, role, status, invited_by, invited_name, accepted_at)
         VALUES ($1, $2, $3, 'invited', $4, $5, NULL)
         ON CONFLICT (organization_id, user_id, role) DO UPDATE
            SET status = 'invited', invited_by = EXCLUDED.invited_by, invited_name = EXCLUDED.invited_name
          WHERE memberships.status = 'suspended' AND memberships.accepted_at IS NULL",
        clinic.as_uuid(),
        person.as_uuid(),
        role.as_str(),
        invited_by.map(|u| u.as_uuid()),
        invited_name
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Changes a membership's role, unless it is `me`'s own or the person holds the role
/// already: whether it changed.
pub async fn change_role(
    db: &mut PgConnection,
    id: MembershipId,
    role: StaffRole,
    me: Option<UserId>,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query!(
        "UPDATE memberships SET role = $2 WHERE id = $1 AND user_id IS DISTINCT FROM $3
           AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.user_id = memberships.user_id AND o.role = $2)",
        id.as_uuid(),
        role.as_str(),
        me.map(|u| u.as_uuid())
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Moves a membership (not `me`'s own) to `status` from one of `from`; only a membership
/// someone once accepted becomes active again. Whether it moved.
pub async fn set_status(
    db: &mut PgConnection,
    id: MembershipId,
    status: &str,
    me: Option<UserId>,
    from: &[&str],
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query!(
        "UPDATE memberships SET status = $2
         WHERE id = $1 AND user_id IS DISTINCT FROM $3 AND status = ANY($4)
           AND ($2 <> 'active' OR accepted_at IS NOT NULL)",
        id.as_uuid(),
        status,
        me.map(|u| u.as_uuid()),
        &from.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// A request under the two-person rule, as the members page lists it.
pub(crate) struct Approval {
    pub id: MemberApprovalId,
    pub kind: String,
    pub requested_by: UserId,
    pub requester: String,
    pub role: Option<String>,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
}

/// Asks for a change an administrator may not make for themselves; false when the same
/// request is already waiting.
pub async fn request_approval(
    db: &mut PgConnection,
    clinic: OrganizationId,
    requester: UserId,
    kind: &str,
    role: Option<StaffRole>,
    reason: &str,
) -> Result<Option<MemberApprovalId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO member_approvals (organization_id, kind, requested_by, role, reason)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (organization_id, requested_by, kind, coalesce(role, '')) WHERE status = 'pending' DO NOTHING
           RETURNING id AS "id: MemberApprovalId""#,
        clinic.as_uuid(),
        kind,
        requester.as_uuid(),
        role.map(|r| r.as_str()),
        reason
    )
    .fetch_optional(db)
    .await
}

/// Every request still waiting, oldest first.
pub async fn pending_approvals(db: &mut PgConnection) -> Result<Vec<Approval>, sqlx::Error> {
    sqlx::query_as!(
        Approval,
        r#"SELECT a.id AS "id: MemberApprovalId", a.kind, a.requested_by AS "requested_by: UserId",
                  u.display_name AS requester, a.role, a.reason, a.requested_at
             FROM member_approvals a JOIN users u ON u.id = a.requested_by
            WHERE a.status = 'pending'
              AND EXISTS (SELECT 1 FROM memberships m
                           WHERE m.organization_id = a.organization_id AND m.user_id = a.requested_by
                             AND m.role = 'org_admin' AND m.status = 'active')
            ORDER BY a.requested_at, a.id"#
    )
    .fetch_all(db)
    .await
}

/// Decides a waiting request of someone else's (`status`: approved or declined): the
/// request, or nothing when there is no such request waiting for this administrator.
pub async fn decide(
    db: &mut PgConnection,
    id: MemberApprovalId,
    decider: UserId,
    status: &str,
    now: DateTime<Utc>,
) -> Result<Option<Approval>, sqlx::Error> {
    sqlx::query_as!(
        Approval,
        r#"WITH decided AS (
               UPDATE member_approvals a SET status = $3, decided_by = $2, decided_at = $4
                WHERE a.id = $1 AND a.status = 'pending' AND a.requested_by <> $2
                  -- Asked by someone who still administers the clinic (a deactivated
                  -- administrator's request is not carried out).
                  AND EXISTS (SELECT 1 FROM memberships m
                               WHERE m.organization_id = a.organization_id AND m.user_id = a.requested_by
                                 AND m.role = 'org_admin' AND m.status = 'active')
               RETURNING a.id, a.kind, a.requested_by, a.role, a.reason, a.requested_at)
           SELECT d.id AS "id!: MemberApprovalId", d.kind AS "kind!", d.requested_by AS "requested_by!: UserId",
                  u.display_name AS "requester!", d.role, d.reason AS "reason!", d.requested_at AS "requested_at!"
             FROM decided d JOIN users u ON u.id = d.requested_by"#,
        id.as_uuid(),
        decider.as_uuid(),
        status,
        now
    )
    .fetch_optional(db)
    .await
}

/// Withdraws one's own waiting request.
pub async fn withdraw(
    db: &mut PgConnection,
    id: MemberApprovalId,
    requester: UserId,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE member_approvals SET status = 'withdrawn', decided_at = $3
          WHERE id = $1 AND status = 'pending' AND requested_by = $2",
        id.as_uuid(),
        requester.as_uuid(),
        now
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Gives `person` a role here at once (an approved request: they are signed in already,
/// so there is nothing to accept); false when they hold it already.
pub async fn grant_role(
    db: &mut PgConnection,
    clinic: OrganizationId,
    person: UserId,
    role: StaffRole,
    by: UserId,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "INSERT INTO memberships (organization_id, user_id, role, status, invited_by, accepted_at)
         VALUES ($1, $2, $3, 'active', $4, now())
         ON CONFLICT (organization_id, user_id, role) DO UPDATE
            SET status = 'active', invited_by = EXCLUDED.invited_by, accepted_at = coalesce(memberships.accepted_at, now())
          WHERE memberships.status <> 'active'",
        clinic.as_uuid(),
        person.as_uuid(),
        role.as_str(),
        by.as_uuid()
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Resets `person`'s second factor (see the database function for every check it makes):
/// how many factors went, or None when the person is not this clinic's alone to reset.
pub async fn reset_second_factor(db: &mut PgConnection, person: UserId) -> Result<Option<i32>, sqlx::Error> {
    let removed =
        sqlx::query_scalar!(r#"SELECT reset_member_second_factor($1) AS "removed!""#, person.as_uuid())
            .fetch_one(db)
            .await?;
    Ok((removed >= 0).then_some(removed))
}

/// Names or unnames an active member as a privacy officer; false when there is no such
/// active membership.
pub async fn set_privacy_officer(
    db: &mut PgConnection,
    id: MembershipId,
    on: bool,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE memberships SET is_privacy_officer = $2 WHERE id = $1 AND status = 'active'",
        id.as_uuid(),
        on
    )
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}
