-- The compliance console's audit search (platform auditors): one clinic's events (or the
-- platform's, clinic NULL), filtered by patient, actor, action, outcome, break-glass and
-- time, newest first, a page at a time by keyset. Audit rows are visible only inside
-- their clinic, so this runs as the owner after checking the caller's auditor role. The
-- statement is built for each call (EXECUTE), so the planner sees the filters given and
-- uses the clinic's time or patient index, and prunes partitions by the period.
CREATE FUNCTION platform_audit_search(
    clinic uuid, patient_mrn text, actor uuid, action_is text, outcome_is text, only_break_glass boolean,
    from_at timestamptz, to_at timestamptz, after_at timestamptz, after_id uuid, page_size integer)
    RETURNS TABLE (id uuid, occurred_at timestamptz, actor_user_id uuid, acting_for_user_id uuid,
                   actor_kind text, role text, action text, resource_type text, resource_id uuid,
                   patient_id uuid, mrn text, purpose text, outcome text, break_glass boolean, ip text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    caller uuid := nullif(current_setting('app.user_id', true), '')::uuid;
    patient uuid;
    sql text;
BEGIN
    IF nullif(current_setting('app.organization_id', true), '') IS NOT NULL OR caller IS NULL OR NOT EXISTS (
        SELECT 1 FROM platform_roles r WHERE r.user_id = caller AND r.role = 'auditor' AND r.revoked_at IS NULL)
    THEN
        RAISE EXCEPTION 'only an auditor searches the audit log' USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('app.organization_id', coalesce(clinic::text, ''), true);
    IF patient_mrn IS NOT NULL THEN
        SELECT p.id INTO patient FROM patients p WHERE p.organization_id = clinic AND p.mrn = patient_mrn;
        IF patient IS NULL THEN
            PERFORM set_config('app.organization_id', '', true);
            RETURN;
        END IF;
    END IF;
    sql := 'SELECT e.id, e.occurred_at, e.actor_user_id, e.acting_for_user_id, e.actor_kind, e.role, e.action,
                   e.resource_type, e.resource_id, e.patient_id, p.mrn, e.purpose, e.outcome, e.break_glass,
                   host(e.ip)
              FROM audit_events e
              LEFT JOIN patients p ON p.organization_id = e.organization_id AND p.id = e.patient_id
             WHERE ' || CASE WHEN clinic IS NULL THEN 'e.organization_id IS NULL' ELSE 'e.organization_id = $1' END;
    IF patient IS NOT NULL THEN sql := sql || ' AND e.patient_id = $2'; END IF;
    IF actor IS NOT NULL THEN sql := sql || ' AND (e.actor_user_id = $3 OR e.acting_for_user_id = $3)'; END IF;
    IF action_is IS NOT NULL THEN sql := sql || ' AND e.action = $4'; END IF;
    IF outcome_is IS NOT NULL THEN sql := sql || ' AND e.outcome = $5'; END IF;
    IF only_break_glass THEN sql := sql || ' AND e.break_glass'; END IF;
    IF from_at IS NOT NULL THEN sql := sql || ' AND e.occurred_at >= $6'; END IF;
    IF to_at IS NOT NULL THEN sql := sql || ' AND e.occurred_at < $7'; END IF;
    IF after_at IS NOT NULL THEN sql := sql || ' AND (e.occurred_at, e.id) < ($8, $9)'; END IF;
    sql := sql || ' ORDER BY e.occurred_at DESC, e.id DESC LIMIT $10';
    RETURN QUERY EXECUTE sql USING clinic, patient, actor, action_is, outcome_is, from_at, to_at, after_at, after_id,
        least(greatest(page_size, 1), 200);
    PERFORM set_config('app.organization_id', '', true);
END $$;
REVOKE ALL ON FUNCTION platform_audit_search(uuid, text, uuid, text, text, boolean, timestamptz, timestamptz,
    timestamptz, uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_audit_search(uuid, text, uuid, text, text, boolean, timestamptz, timestamptz,
    timestamptz, uuid, integer) TO lockdev_runtime;
