-- The audit log: who looked at or changed what, when, from where, and why. Written in the
-- same transaction as the operation it describes (if the audit insert fails, so does the
-- operation). Append-only for every role; sealed into a hash chain per organization by
-- a background sealer (see src/audit/), so a quiet edit is detectable. Partitioned by
-- month: retention (six years) detaches whole partitions, never deletes rows.

CREATE TABLE audit_events (
    id uuid NOT NULL DEFAULT new_ulid(),
    -- The database's clock, not the caller's.
    occurred_at timestamptz NOT NULL DEFAULT now(),
    -- NULL for platform events (sign-in, platform console).
    organization_id uuid,
    actor_user_id uuid,
    actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'service', 'system')),
    -- Set while an administrator acts as another user: actor_user_id is the administrator.
    acting_for_user_id uuid,
    break_glass boolean NOT NULL DEFAULT false,
    role text CHECK (length(role) <= 40),
    action text NOT NULL CHECK (action ~ '^[a-z][a-z_]{1,39}$'),
    resource_type text CHECK (resource_type ~ '^[a-z][a-z_]{1,39}$'),
    resource_id uuid,
    patient_id uuid,
    purpose text CHECK (length(purpose) <= 200),
    outcome text NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    request_id text CHECK (length(request_id) <= 64),
    ip inet,
    user_agent text CHECK (length(user_agent) <= 500),
    -- Identifiers and codes only, never PHI.
    details jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object'),
    -- Shared with the row-history entries the same transaction wrote.
    txid bigint NOT NULL DEFAULT txid_current(),
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX audit_events_org_time ON audit_events (organization_id, occurred_at);
CREATE INDEX audit_events_patient ON audit_events (organization_id, patient_id, occurred_at)
    WHERE patient_id IS NOT NULL;

-- Rows whose month has no partition land here rather than failing the operation; the
-- partition job keeps it empty by creating months ahead.
CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON audit_events AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL));
CREATE POLICY tenant_access ON audit_events
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL));
-- Partitions are reached through the parent (and its policies) only: row-level security
-- with no policy of their own denies direct access, even to the owner.
ALTER TABLE audit_events_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events_default FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON audit_events TO lockdev_runtime;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_events_default_no_truncate BEFORE TRUNCATE ON audit_events_default
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Creates the monthly partitions covering [from_month, to_month], each append-only and
-- closed to direct access like the default. Runs as the owner so the runtime role's
-- scheduled job can call it without being able to create tables itself.
CREATE FUNCTION audit_ensure_partitions(from_month date, to_month date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    month date;
    partition text;
    created integer := 0;
BEGIN
    IF to_month < from_month OR to_month > from_month + interval '10 years' THEN
        RAISE EXCEPTION 'audit_ensure_partitions: bad range % .. %', from_month, to_month;
    END IF;
    FOR month IN
        SELECT generate_series(date_trunc('month', from_month), date_trunc('month', to_month), interval '1 month')::date
    LOOP
        partition := format('audit_events_%s', to_char(month, 'YYYY_MM'));
        IF to_regclass('public.' || partition) IS NULL THEN
            EXECUTE format('CREATE TABLE public.%I PARTITION OF public.audit_events FOR VALUES FROM (%L) TO (%L)',
                           partition, month, (month + interval '1 month')::date);
            EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', partition);
            EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', partition);
            EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON public.%I FOR EACH STATEMENT EXECUTE FUNCTION public.forbid_change()',
                           partition || '_no_truncate', partition);
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;
REVOKE ALL ON FUNCTION audit_ensure_partitions(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_ensure_partitions(date, date) TO lockdev_runtime;

SELECT audit_ensure_partitions((now() - interval '1 month')::date, (now() + interval '3 months')::date);

-- The hash chain. Each organization (and the platform, organization_id NULL) has one
-- chain; the sealer appends events in a deterministic order, each seal's hash covering
-- the previous hash and the event's canonical form. Append-only like the events.
CREATE TABLE audit_seals (
    organization_id uuid,
    seq bigint NOT NULL CHECK (seq > 0),
    event_id uuid NOT NULL,
    event_occurred_at timestamptz NOT NULL,
    prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash bytea NOT NULL CHECK (length(hash) = 32),
    sealed_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (organization_id, seq),
    UNIQUE (event_id)
);
ALTER TABLE audit_seals ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_seals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON audit_seals AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL));
CREATE POLICY tenant_access ON audit_seals
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL));
GRANT SELECT, INSERT ON audit_seals TO lockdev_runtime;
CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
