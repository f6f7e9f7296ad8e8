-- The context directory: which clinic-scoped roles each person holds, so that after
-- sign-in a person can be shown (or sent straight to) their contexts without reading any
-- clinic's tables across tenants. Derived data, written only by triggers on the tables
-- it mirrors; the runtime role may only read it.

CREATE TABLE user_contexts (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    user_id uuid NOT NULL REFERENCES users (id),
    kind text NOT NULL CHECK (kind IN ('staff', 'patient', 'proxy')),
    -- The staff role, for kind = 'staff'.
    role text,
    -- The patient acted for, for kind = 'patient' (themself) or 'proxy'.
    patient_id uuid,
    -- memberships.id, patients.id or patient_proxy_assignments.id.
    source_id uuid NOT NULL,
    active boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, kind, source_id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id),
    CHECK ((kind = 'staff') = (role IS NOT NULL)),
    CHECK ((kind = 'staff') = (patient_id IS NULL))
);
CREATE INDEX user_contexts_user ON user_contexts (user_id);

-- Inside a clinic: that clinic's rows. Platform work (no clinic set) for a signed-in
-- person: that person's own rows in every clinic, and nothing else.
ALTER TABLE user_contexts ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_contexts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON user_contexts AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (nullif(current_setting('app.organization_id', true), '') IS NULL AND user_id = nullif(current_setting('app.user_id', true), '')::uuid))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON user_contexts
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (nullif(current_setting('app.organization_id', true), '') IS NULL AND user_id = nullif(current_setting('app.user_id', true), '')::uuid))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT ON user_contexts TO lockdev_runtime;

CREATE FUNCTION sync_user_context() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    previous_org text := current_setting('app.organization_id', true);
    person uuid;
    context_kind text;
    staff_role text;
    patient uuid;
    is_active boolean;
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
    END IF;

    -- The source row already passed its clinic's policies. Write its directory entry under
    -- that same clinic (changes made outside the application have no clinic set), then
    -- put the setting back as it was.
    PERFORM set_config('app.organization_id', NEW.organization_id::text, true);
    IF person IS NULL THEN
        UPDATE user_contexts SET active = false, updated_at = now()
         WHERE organization_id = NEW.organization_id AND kind = context_kind AND source_id = NEW.id;
    ELSE
        INSERT INTO user_contexts (organization_id, user_id, kind, role, patient_id, source_id, active)
        VALUES (NEW.organization_id, person, context_kind, staff_role, patient, NEW.id, is_active)
        ON CONFLICT (organization_id, kind, source_id) DO UPDATE
            SET user_id = EXCLUDED.user_id, role = EXCLUDED.role, patient_id = EXCLUDED.patient_id,
                active = EXCLUDED.active, updated_at = now();
    END IF;
    PERFORM set_config('app.organization_id', coalesce(previous_org, ''), true);
    RETURN NULL;
END
$$;

CREATE TRIGGER memberships_context AFTER INSERT OR UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION sync_user_context();
CREATE TRIGGER patients_context AFTER INSERT OR UPDATE OF user_id, deleted_at ON patients
    FOR EACH ROW EXECUTE FUNCTION sync_user_context();
CREATE TRIGGER patient_proxy_assignments_context AFTER INSERT OR UPDATE ON patient_proxy_assignments
    FOR EACH ROW EXECUTE FUNCTION sync_user_context();

-- People: platform work sees everyone (sign-in looks a person up by e-mail before any
-- clinic is chosen); inside a clinic, only the people linked to that clinic (staff,
-- patients, proxies, through the directory above, itself filtered to the clinic) and
-- oneself. New people are created by platform work only (invitations, activation).
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY people_read ON users FOR SELECT
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL
           OR id = nullif(current_setting('app.user_id', true), '')::uuid
           OR EXISTS (SELECT 1 FROM user_contexts uc WHERE uc.user_id = users.id));
CREATE POLICY people_create ON users FOR INSERT
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL);
CREATE POLICY people_update ON users FOR UPDATE
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL
           OR id = nullif(current_setting('app.user_id', true), '')::uuid
           OR EXISTS (SELECT 1 FROM user_contexts uc WHERE uc.user_id = users.id))
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL
           OR id = nullif(current_setting('app.user_id', true), '')::uuid
           OR EXISTS (SELECT 1 FROM user_contexts uc WHERE uc.user_id = users.id));
