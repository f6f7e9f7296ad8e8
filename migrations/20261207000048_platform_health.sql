-- The result of each verification of an audit chain (`lockdev audit verify`, and the
-- compliance console's verification job): when, how far, and the first broken link if
-- any (a sequence number and what broke, never an event's content). Scoped like the
-- chain it checked; append-only.
CREATE TABLE audit_verifications (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    organization_id uuid REFERENCES organizations (id),
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    sealed bigint NOT NULL CHECK (sealed >= 0),
    pending bigint NOT NULL CHECK (pending >= 0),
    problem text CHECK (length(problem) <= 500),
    requested_by uuid REFERENCES users (id),
    CHECK (finished_at >= started_at)
);
CREATE INDEX audit_verifications_latest ON audit_verifications (organization_id, finished_at DESC);
ALTER TABLE audit_verifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_verifications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON audit_verifications AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL));
CREATE POLICY tenant_access ON audit_verifications
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL));
GRANT SELECT, INSERT ON audit_verifications TO lockdev_runtime;
CREATE TRIGGER audit_verifications_append_only BEFORE UPDATE OR DELETE ON audit_verifications
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Each chain's sealing and its last verification, for the platform console's health page
-- (super admin) and the compliance console (auditor): sequence numbers and times, never
-- an event. Audit rows are visible only inside their clinic, so this runs as the owner
-- and looks into each chain in turn, after checking the caller's platform role.
-- The platform's own chain is the row with a NULL organization_id.
CREATE FUNCTION platform_audit_health()
    RETURNS TABLE (organization_id uuid, sealed bigint, last_sealed_at timestamptz, unsealed bigint,
                   oldest_unsealed timestamptz, verified_at timestamptz, verified_sealed bigint,
                   verification_problem text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    actor uuid := nullif(current_setting('app.user_id', true), '')::uuid;
    chains uuid[];
    chain uuid;
    frontier timestamptz;
BEGIN
    IF nullif(current_setting('app.organization_id', true), '') IS NOT NULL OR actor IS NULL OR NOT EXISTS (
        SELECT 1 FROM platform_roles r WHERE r.user_id = actor AND r.revoked_at IS NULL)
    THEN
        RAISE EXCEPTION 'only platform staff read the chains'' health' USING ERRCODE = 'insufficient_privilege';
    END IF;
    chains := array(SELECT o.id FROM organizations o WHERE o.deleted_at IS NULL ORDER BY o.id);
    -- NULL first: the platform's chain.
    chains := array_prepend(NULL::uuid, chains);
    FOREACH chain IN ARRAY chains LOOP
        PERFORM set_config('app.organization_id', coalesce(chain::text, ''), true);
        organization_id := chain;
        -- Written per case so each lookup uses its index (IS NOT DISTINCT FROM cannot).
        IF chain IS NULL THEN
            SELECT s.seq, s.sealed_at, s.event_occurred_at INTO sealed, last_sealed_at, frontier
              FROM audit_seals s WHERE s.organization_id IS NULL ORDER BY s.seq DESC LIMIT 1;
        ELSE
            SELECT s.seq, s.sealed_at, s.event_occurred_at INTO sealed, last_sealed_at, frontier
              FROM audit_seals s WHERE s.organization_id = chain ORDER BY s.seq DESC LIMIT 1;
        END IF;
        IF NOT FOUND THEN
            sealed := 0; last_sealed_at := NULL; frontier := '-infinity';
        END IF;
        -- Events from the frontier on that no seal covers yet.
        IF chain IS NULL THEN
            SELECT count(*), min(e.occurred_at) INTO unsealed, oldest_unsealed FROM audit_events e
             WHERE e.organization_id IS NULL AND e.occurred_at >= frontier
               AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id);
            SELECT v.finished_at, v.sealed, v.problem INTO verified_at, verified_sealed, verification_problem
              FROM audit_verifications v WHERE v.organization_id IS NULL ORDER BY v.finished_at DESC LIMIT 1;
        ELSE
            SELECT count(*), min(e.occurred_at) INTO unsealed, oldest_unsealed FROM audit_events e
             WHERE e.organization_id = chain AND e.occurred_at >= frontier
               AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id);
            SELECT v.finished_at, v.sealed, v.problem INTO verified_at, verified_sealed, verification_problem
              FROM audit_verifications v WHERE v.organization_id = chain ORDER BY v.finished_at DESC LIMIT 1;
        END IF;
        IF NOT FOUND THEN
            verified_at := NULL; verified_sealed := NULL; verification_problem := NULL;
        END IF;
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('app.organization_id', '', true);
END $$;
REVOKE ALL ON FUNCTION platform_audit_health() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_audit_health() TO lockdev_runtime;
