-- The contexts offered after sign-in agree with the ones that resolve: a proxy grant that
-- has not started or has expired is not offered (entering it would fail after the session
-- was already rotated). The directory keeps the grant's window beside its status.
ALTER TABLE user_contexts ADD COLUMN starts_at timestamptz, ADD COLUMN expires_at timestamptz;

CREATE OR REPLACE FUNCTION sync_user_context() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    previous_org text := current_setting('app.organization_id', true);
    person uuid;
    context_kind text;
    staff_role text;
    patient uuid;
    is_active boolean;
    valid_from timestamptz;
    valid_until timestamptz;
BEGIN
    IF TG_TABLE_NAME = 'memberships' THEN
        person := NEW.user_id;
        context_kind := 'staff';
        staff_role := NEW.role;
        is_active := NEW.status = 'active';
    ELSIF TG_TABLE_NAME = 'patients' THEN
        person := NEW.user_id;
        context_kind := 'patient';
        patient := NEW.id;
        is_active := NEW.deleted_at IS NULL AND NEW.user_id IS NOT NULL;
    ELSE
        person := NEW.proxy_user_id;
        context_kind := 'proxy';
        patient := NEW.patient_id;
        is_active := NEW.status = 'active';
        valid_from := NEW.starts_at;
        valid_until := NEW.expires_at;
    END IF;

    -- The source row already passed its clinic's policies. Write its directory entry under
    -- that same clinic (changes made outside the application have no clinic set), then
    -- put the setting back as it was.
    PERFORM set_config('app.organization_id', NEW.organization_id::text, true);
    IF person IS NULL THEN
        UPDATE user_contexts SET active = false, updated_at = now()
         WHERE organization_id = NEW.organization_id AND kind = context_kind AND source_id = NEW.id;
    ELSE
        INSERT INTO user_contexts (organization_id, user_id, kind, role, patient_id, source_id, active,
                                   starts_at, expires_at)
        VALUES (NEW.organization_id, person, context_kind, staff_role, patient, NEW.id, is_active,
                valid_from, valid_until)
        ON CONFLICT (organization_id, kind, source_id) DO UPDATE
            SET user_id = EXCLUDED.user_id, role = EXCLUDED.role, patient_id = EXCLUDED.patient_id,
                active = EXCLUDED.active, starts_at = EXCLUDED.starts_at, expires_at = EXCLUDED.expires_at,
                updated_at = now();
    END IF;
    PERFORM set_config('app.organization_id', coalesce(previous_org, ''), true);
    RETURN NULL;
END
$$;

-- Entries written before this carry no window: copy it from the grants, clinic by clinic
-- (row-level security holds for the owner too).
DO $$
DECLARE
    clinic uuid;
BEGIN
    FOR clinic IN SELECT id FROM organizations LOOP
        PERFORM set_config('app.organization_id', clinic::text, true);
        UPDATE user_contexts uc SET starts_at = a.starts_at, expires_at = a.expires_at
          FROM patient_proxy_assignments a
         WHERE uc.kind = 'proxy' AND uc.organization_id = a.organization_id AND uc.source_id = a.id;
    END LOOP;
    PERFORM set_config('app.organization_id', '', true);
END
$$;
