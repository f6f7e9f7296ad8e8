-- Row history: every change to clinical and identity tables, with before and after
-- images, written by triggers. It records changes made outside the application too
-- (plain SQL by an operator), so the record does not depend on code remembering to write
-- it. Like the audit log it is append-only for every role.

-- Raised by the append-only tables on UPDATE, DELETE and TRUNCATE, whoever asks.
CREATE FUNCTION forbid_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TABLE row_history (
    -- Made by the database only, never supplied by a client.
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    -- NULL for global tables (users, organizations...).
    organization_id uuid,
    table_name text NOT NULL,
    row_id uuid,
    operation text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    old_row jsonb,
    new_row jsonb,
    -- Shared with the audit event of the same request.
    txid bigint NOT NULL DEFAULT txid_current(),
    actor_user_id uuid,
    acting_for_user_id uuid,
    -- 'user' when the application named who acted; 'unknown' when the change came with no
    -- application context (an operator's SQL, a migration).
    actor_label text NOT NULL CHECK (actor_label IN ('user', 'unknown')),
    -- The database login that made the change.
    db_role text NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX row_history_row ON row_history (organization_id, table_name, row_id, occurred_at);
CREATE INDEX row_history_txid ON row_history (txid);

ALTER TABLE row_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE row_history FORCE ROW LEVEL SECURITY;
-- Read: a clinic's history inside the clinic; global tables' history in platform work.
-- Write (triggers only, the runtime role has no INSERT): a clinic's rows under that
-- clinic, global rows anywhere, and anything when no context is set at all (an
-- operator's maintenance must still leave a trace, not fail).
CREATE POLICY tenant_guard ON row_history AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL))
    WITH CHECK (organization_id IS NULL
                OR organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR nullif(current_setting('app.organization_id', true), '') IS NULL);
CREATE POLICY tenant_access ON row_history
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL))
    WITH CHECK (organization_id IS NULL
                OR organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR nullif(current_setting('app.organization_id', true), '') IS NULL);
GRANT SELECT ON row_history TO lockdev_runtime;

CREATE TRIGGER row_history_append_only BEFORE UPDATE OR DELETE ON row_history
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER row_history_no_truncate BEFORE TRUNCATE ON row_history
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Runs as the owner so that the runtime role needs no INSERT on row_history (it cannot
-- forge history); the arguments name columns kept out of the images (secrets).
CREATE FUNCTION record_row_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    old_image jsonb;
    new_image jsonb;
    image jsonb;
    actor uuid := nullif(current_setting('app.user_id', true), '')::uuid;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_image := to_jsonb(OLD);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_image := to_jsonb(NEW);
    END IF;
    IF TG_NARGS > 0 THEN
        old_image := old_image - TG_ARGV;
        new_image := new_image - TG_ARGV;
    END IF;
    image := coalesce(new_image, old_image);
    -- An organization is its own tenant.
    IF TG_TABLE_NAME = 'organizations' THEN
        image := image || jsonb_build_object('organization_id', image ->> 'id');
    END IF;
    INSERT INTO row_history (organization_id, table_name, row_id, operation, old_row, new_row,
                             actor_user_id, acting_for_user_id, actor_label, db_role)
    VALUES ((image ->> 'organization_id')::uuid, TG_TABLE_NAME, (image ->> 'id')::uuid, TG_OP,
            old_image, new_image, actor,
            nullif(current_setting('app.acting_for_user_id', true), '')::uuid,
            CASE WHEN actor IS NULL THEN 'unknown' ELSE 'user' END,
            session_user);
    RETURN NULL;
END
$$;

CREATE TRIGGER organizations_history AFTER INSERT OR UPDATE OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER users_history AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION record_row_history('password_hash');
CREATE TRIGGER platform_roles_history AFTER INSERT OR UPDATE OR DELETE ON platform_roles
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER user_contact_methods_history AFTER INSERT OR UPDATE OR DELETE ON user_contact_methods
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER memberships_history AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER providers_history AFTER INSERT OR UPDATE OR DELETE ON providers
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER provider_licenses_history AFTER INSERT OR UPDATE OR DELETE ON provider_licenses
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER staff_history AFTER INSERT OR UPDATE OR DELETE ON staff
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER patients_history AFTER INSERT OR UPDATE OR DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER patient_proxy_assignments_history AFTER INSERT OR UPDATE OR DELETE ON patient_proxy_assignments
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER care_team_members_history AFTER INSERT OR UPDATE OR DELETE ON care_team_members
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER contact_methods_history AFTER INSERT OR UPDATE OR DELETE ON contact_methods
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER consent_documents_history AFTER INSERT OR UPDATE OR DELETE ON consent_documents
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER consents_history AFTER INSERT OR UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
