-- The platform console's clinics: a super admin suspends a clinic (sign-ins into it are
-- refused with a clear page, its jobs wait, its data stays) and restores it; why and when
-- are kept with the clinic, and row history keeps every change.
ALTER TABLE organizations
    ADD COLUMN suspended_at timestamptz,
    ADD COLUMN suspended_reason text CHECK (length(btrim(suspended_reason)) BETWEEN 1 AND 500),
    ADD CONSTRAINT organizations_suspension_explained
        CHECK ((status = 'suspended') = (suspended_at IS NOT NULL AND suspended_reason IS NOT NULL));

-- What the console shows of each clinic: counts and the time of the last person's
-- action, never patient data. Tenant rows are visible only inside their clinic, so this
-- runs as the owner and looks into each clinic in turn, after checking that the caller
-- (app.user_id, outside any clinic) holds the super admin role.
CREATE FUNCTION platform_clinic_usage()
    RETURNS TABLE (organization_id uuid, members bigint, patients bigint, last_activity timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    actor uuid := nullif(current_setting('app.user_id', true), '')::uuid;
    clinics uuid[];
    clinic uuid;
BEGIN
    IF nullif(current_setting('app.organization_id', true), '') IS NOT NULL OR actor IS NULL OR NOT EXISTS (
        SELECT 1 FROM platform_roles r WHERE r.user_id = actor AND r.role = 'super_admin' AND r.revoked_at IS NULL)
    THEN
        RAISE EXCEPTION 'only a super admin reads the clinics'' usage' USING ERRCODE = 'insufficient_privilege';
    END IF;
    clinics := array(SELECT o.id FROM organizations o WHERE o.deleted_at IS NULL ORDER BY o.id);
    FOREACH clinic IN ARRAY clinics LOOP
        PERFORM set_config('app.organization_id', clinic::text, true);
        organization_id := clinic;
        SELECT count(*) INTO members FROM memberships m WHERE m.organization_id = clinic AND m.status = 'active';
        SELECT count(*) INTO patients FROM patients p WHERE p.organization_id = clinic AND p.deleted_at IS NULL;
        SELECT max(e.occurred_at) INTO last_activity FROM audit_events e
         WHERE e.organization_id = clinic AND e.actor_kind = 'user';
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('app.organization_id', '', true);
END $$;
REVOKE ALL ON FUNCTION platform_clinic_usage() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_clinic_usage() TO lockdev_runtime;
