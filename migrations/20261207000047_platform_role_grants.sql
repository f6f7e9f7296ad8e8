-- Platform roles are granted and revoked from the platform console, only by a super admin
-- and never to or by oneself. The runtime role loses its direct writes on the table: both
-- changes go through these functions, which check the caller (app.user_id, outside any
-- clinic) again, so a bug in a page cannot make a super admin.
REVOKE INSERT, UPDATE ON platform_roles FROM lockdev_runtime;

CREATE FUNCTION platform_role_check_actor(target uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    actor uuid := nullif(current_setting('app.user_id', true), '')::uuid;
BEGIN
    IF nullif(current_setting('app.organization_id', true), '') IS NOT NULL OR actor IS NULL OR NOT EXISTS (
        SELECT 1 FROM platform_roles r WHERE r.user_id = actor AND r.role = 'super_admin' AND r.revoked_at IS NULL)
    THEN
        RAISE EXCEPTION 'only a super admin changes platform roles' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF target = actor THEN
        RAISE EXCEPTION 'nobody changes their own platform roles' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN actor;
END $$;
REVOKE ALL ON FUNCTION platform_role_check_actor(uuid) FROM PUBLIC;

-- The new grant's id, or NULL when the person holds that role already.
CREATE FUNCTION platform_role_grant(target uuid, granted text, at timestamptz) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    actor uuid := platform_role_check_actor(target);
    grant_id uuid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users u WHERE u.id = target AND u.disabled_at IS NULL AND u.deleted_at IS NULL) THEN
        RAISE EXCEPTION 'a platform role is granted to an open account' USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO platform_roles (user_id, role, granted_by, granted_at) VALUES (target, granted, actor, at)
        ON CONFLICT (user_id, role) WHERE revoked_at IS NULL DO NOTHING
        RETURNING id INTO grant_id;
    RETURN grant_id;
END $$;
REVOKE ALL ON FUNCTION platform_role_grant(uuid, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_role_grant(uuid, text, timestamptz) TO lockdev_runtime;

-- Ends one live grant; the role it ended, or NULL when there was no such live grant.
CREATE FUNCTION platform_role_revoke(grant_id uuid, at timestamptz) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    target uuid;
    ended text;
    actor uuid;
BEGIN
    SELECT r.user_id INTO target FROM platform_roles r WHERE r.id = grant_id AND r.revoked_at IS NULL;
    actor := platform_role_check_actor(target);
    IF target IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE platform_roles r SET revoked_at = at, revoked_by = actor
     WHERE r.id = grant_id AND r.revoked_at IS NULL
    RETURNING r.role INTO ended;
    RETURN ended;
END $$;
REVOKE ALL ON FUNCTION platform_role_revoke(uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_role_revoke(uuid, timestamptz) TO lockdev_runtime;
