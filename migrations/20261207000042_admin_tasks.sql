-- Work the platform found for a clinic's administrators: today, a provider's state
-- licence that runs out within 60 days (found by a weekly job). Never about a patient,
-- so the administrator, who sees no patient data, works it from their home.
CREATE TABLE admin_tasks (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    kind text NOT NULL CHECK (kind IN ('licence_expiring')),
    provider_license_id uuid NOT NULL,
    -- The expiry the task is about: a licence renewed to a new date gets a task of its
    -- own when that one comes close, and the weekly job never repeats one.
    due_on date NOT NULL,
    summary text NOT NULL CHECK (length(summary) BETWEEN 1 AND 300),
    created_at timestamptz NOT NULL DEFAULT now(),
    done_at timestamptz,
    done_by uuid REFERENCES users (id),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, provider_license_id) REFERENCES provider_licenses (organization_id, id),
    UNIQUE (organization_id, provider_license_id, due_on),
    CHECK ((done_at IS NULL) = (done_by IS NULL))
);
CREATE INDEX admin_tasks_open ON admin_tasks (organization_id, due_on) WHERE done_at IS NULL;
ALTER TABLE admin_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin_tasks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON admin_tasks AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON admin_tasks
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON admin_tasks TO lockdev_runtime;
CREATE TRIGGER admin_tasks_history AFTER INSERT OR UPDATE OR DELETE ON admin_tasks
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
