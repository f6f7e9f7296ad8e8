-- The runtime role writes no audit seals. Sealing happens in the database, in a
-- SECURITY DEFINER function the runtime role may only call: it hashes events that exist,
-- in order, onto the chain's head, so a compromised application can ask for sealing but
-- can neither forge a seal nor fork a chain. Verification stays in the application
-- (`lockdev audit verify` recomputes every hash independently of this function).

-- An event's canonical bytes: a JSON array of its columns as text (NULL as null), in a
-- fixed order; timestamps in UTC with microseconds, details as PostgreSQL prints jsonb.
-- Keep in step with `canonical` in src/audit/chain.rs.
CREATE FUNCTION audit_event_canonical(e audit_events) RETURNS bytea
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp
AS $$
    SELECT convert_to(array_to_json(ARRAY[
        e.id::text,
        to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        e.organization_id::text,
        e.actor_user_id::text,
        e.actor_kind,
        e.acting_for_user_id::text,
        CASE WHEN e.break_glass THEN 'true' ELSE 'false' END,
        e.role,
        e.action,
        e.resource_type,
        e.resource_id::text,
        e.patient_id::text,
        e.purpose,
        e.outcome,
        e.request_id,
        e.ip::text,
        e.user_agent,
        e.details::text,
        e.txid::text
    ])::text, 'UTF8')
$$;

-- Seals up to `batch` unsealed events of one chain (the caller's clinic, or the platform
-- when no clinic is set), returning how many. One sealer per chain (advisory lock); the
-- events of the last `late_commit` before the head are looked at again, for transactions
-- that committed after later ones.
CREATE FUNCTION audit_seal_chain(batch integer, late_commit interval) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    chain uuid := nullif(current_setting('app.organization_id', true), '')::uuid;
    head_seq bigint := 0;
    head_hash bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    since timestamptz := '-infinity';
    event audit_events;
    link bytea;
    sealed integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('lockdev.audit_seal:' || coalesce(chain::text, 'platform'), 0));
    SELECT s.seq, s.hash, s.event_occurred_at - late_commit INTO head_seq, head_hash, since
      FROM audit_seals s WHERE s.organization_id IS NOT DISTINCT FROM chain
     ORDER BY s.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        since := '-infinity';
    END IF;
    FOR event IN
        SELECT e.* FROM audit_events e
         WHERE e.organization_id IS NOT DISTINCT FROM chain
           AND e.occurred_at >= since
           AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id)
         ORDER BY e.occurred_at, e.id
         LIMIT batch
    LOOP
        link := sha256(head_hash || audit_event_canonical(event));
        head_seq := head_seq + 1;
        INSERT INTO audit_seals (organization_id, seq, event_id, event_occurred_at, prev_hash, hash)
        VALUES (chain, head_seq, event.id, event.occurred_at, head_hash, link);
        head_hash := link;
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END
$$;

REVOKE INSERT ON audit_seals FROM lockdev_runtime;
REVOKE ALL ON FUNCTION audit_seal_chain(integer, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_seal_chain(integer, interval) TO lockdev_runtime;
