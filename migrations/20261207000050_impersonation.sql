-- Impersonation for support: a clinic administrator acts as another member of the same
-- clinic (a role below their own), with a reason, to see what that member sees. Each one
-- is recorded here; while it lasts every audit event and row-history entry carries both
-- people (actor = the administrator, acting_for = the member).
CREATE TABLE impersonations (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    user_id uuid NOT NULL REFERENCES users (id),
    target_user_id uuid NOT NULL REFERENCES users (id),
    target_role text NOT NULL CHECK (target_role IN ('provider', 'clinical_staff', 'admin_staff', 'call_center_agent')),
    reason text NOT NULL CHECK (length(btrim(reason)) BETWEEN 10 AND 500),
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    PRIMARY KEY (organization_id, id),
    CHECK (user_id <> target_user_id),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX impersonations_recent ON impersonations (organization_id, started_at DESC);
ALTER TABLE impersonations ENABLE ROW LEVEL SECURITY;
ALTER TABLE impersonations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON impersonations AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON impersonations
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT ON impersonations TO lockdev_runtime;
GRANT UPDATE (ended_at) ON impersonations TO lockdev_runtime;
CREATE TRIGGER impersonations_history AFTER INSERT OR UPDATE OR DELETE ON impersonations
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
