-- The two-person rule for a clinic's administrators. Two changes an administrator never
-- makes for themselves, since each could be a way into patient data: a further role of
-- their own (a provider's, a nurse's ...) and the reset of their own second factor. One
-- administrator asks, with a reason; another approves or declines.
CREATE TABLE member_approvals (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    kind text NOT NULL CHECK (kind IN ('own_role', 'own_factor_reset')),
    requested_by uuid NOT NULL REFERENCES users (id),
    role text CHECK (role IN ('provider', 'clinical_staff', 'admin_staff', 'call_center_agent', 'org_admin')),
    reason text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 300),
    requested_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'declined', 'withdrawn')),
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    PRIMARY KEY (organization_id, id),
    CHECK ((kind = 'own_role') = (role IS NOT NULL)),
    CHECK ((status IN ('approved', 'declined')) = (decided_by IS NOT NULL)),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    -- The rule itself, whatever the application does.
    CHECK (decided_by <> requested_by)
);
CREATE UNIQUE INDEX member_approvals_one_pending
    ON member_approvals (organization_id, requested_by, kind, coalesce(role, ''))
    WHERE status = 'pending';
ALTER TABLE member_approvals ENABLE ROW LEVEL SECURITY;
ALTER TABLE member_approvals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON member_approvals AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON member_approvals
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON member_approvals TO lockdev_runtime;
CREATE TRIGGER member_approvals_history AFTER INSERT OR UPDATE OR DELETE ON member_approvals
    FOR EACH ROW EXECUTE FUNCTION record_row_history();

-- Resets a member's second factor for a clinic administrator: their authenticator app,
-- passkeys, recovery codes and any enrolment in progress go, and every session they have
-- ends, so their next sign-in sets up a new factor. The factor tables are each person's
-- own (row-level security on app.user_id), so this runs as the owner and checks first:
--  * the caller is an active administrator of the clinic set for the transaction, and
--    not the person (their own reset takes a second administrator);
--  * the person has accepted a membership here, and has no other context anywhere (no
--    role at another clinic, no portal or proxy access) and no platform role: anyone
--    else's factors are more than this clinic's to reset (platform support does it).
-- Returns the number of factors removed, or -1 when the person is not this clinic's alone.
CREATE FUNCTION reset_member_second_factor(target uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    clinic uuid := nullif(current_setting('app.organization_id', true), '')::uuid;
    actor uuid := nullif(current_setting('app.user_id', true), '')::uuid;
    elsewhere boolean;
    removed integer := 0;
    n integer;
BEGIN
    IF clinic IS NULL OR actor IS NULL OR actor = target OR NOT EXISTS (
        SELECT 1 FROM memberships
         WHERE organization_id = clinic AND user_id = actor AND role = 'org_admin' AND status = 'active')
    THEN
        RAISE EXCEPTION 'only another administrator of the clinic resets a member''s second factor'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM memberships
                    WHERE organization_id = clinic AND user_id = target AND accepted_at IS NOT NULL) THEN
        RETURN -1;
    END IF;
    -- The person's own view of the context directory: every clinic, nothing of anyone else.
    PERFORM set_config('app.organization_id', '', true);
    PERFORM set_config('app.user_id', target::text, true);
    SELECT EXISTS (SELECT 1 FROM user_contexts WHERE user_id = target AND active
                      AND (organization_id <> clinic OR kind <> 'staff'))
        OR EXISTS (SELECT 1 FROM platform_roles WHERE user_id = target AND revoked_at IS NULL)
      INTO elsewhere;
    IF NOT elsewhere THEN
        -- In line with sign-in and "sign out everywhere" for this person's sessions.
        PERFORM pg_advisory_xact_lock(hashtextextended('sessions of ' || target::text, 0));
        DELETE FROM totp_credentials WHERE user_id = target;
        GET DIAGNOSTICS n = ROW_COUNT;
        removed := removed + n;
        DELETE FROM passkeys WHERE user_id = target;
        GET DIAGNOSTICS n = ROW_COUNT;
        removed := removed + n;
        DELETE FROM recovery_codes WHERE user_id = target;
        DELETE FROM totp_enrolments WHERE user_id = target;
        DELETE FROM tower_sessions.session s USING user_sessions u
         WHERE u.session_id = s.id AND u.user_id = target;
        DELETE FROM user_sessions WHERE user_id = target;
    END IF;
    PERFORM set_config('app.user_id', actor::text, true);
    PERFORM set_config('app.organization_id', clinic::text, true);
    RETURN CASE WHEN elsewhere THEN -1 ELSE removed END;
END $$;
REVOKE ALL ON FUNCTION reset_member_second_factor(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reset_member_second_factor(uuid) TO lockdev_runtime;
