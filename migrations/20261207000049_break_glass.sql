-- Break-glass: emergency access to ONE patient's record in ONE clinic, with a reason and a
-- purpose, for at most 60 minutes (a clinic may shorten it), by a super admin or by a
-- clinic member kept out by "care team only" or a sensitive category. Every read under
-- it is audited with break_glass = true; the clinic's privacy officers are told at once;
-- each grant waits in a review queue until the compliance console closes it with a
-- finding.

-- The members told of every break-glass (no patient data: a link to the review queue).
ALTER TABLE memberships ADD COLUMN is_privacy_officer boolean NOT NULL DEFAULT false;

CREATE TABLE break_glass_grants (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id),
    -- Through the platform console (a super admin) or from the clinic's own chart.
    via text NOT NULL CHECK (via IN ('platform', 'staff')),
    role text NOT NULL CHECK (length(role) <= 40),
    purpose text NOT NULL CHECK (purpose IN ('emergency_care', 'patient_safety', 'support_request', 'legal_request')),
    reason text NOT NULL CHECK (length(btrim(reason)) BETWEEN 10 AND 1000),
    started_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    -- Ended by the person before it expired.
    ended_at timestamptz,
    reviewed_at timestamptz,
    reviewed_by uuid REFERENCES users (id),
    finding text CHECK (finding IN ('appropriate', 'inappropriate', 'needs_follow_up')),
    review_note text CHECK (length(review_note) <= 2000),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id),
    CHECK (expires_at > started_at AND expires_at <= started_at + interval '60 minutes'),
    CHECK (ended_at IS NULL OR ended_at >= started_at),
    CHECK ((reviewed_at IS NULL) = (reviewed_by IS NULL) AND (reviewed_at IS NULL) = (finding IS NULL))
);
CREATE INDEX break_glass_grants_live ON break_glass_grants (organization_id, user_id, expires_at)
    WHERE ended_at IS NULL;
CREATE INDEX break_glass_grants_unreviewed ON break_glass_grants (organization_id, started_at)
    WHERE reviewed_at IS NULL;
ALTER TABLE break_glass_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE break_glass_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON break_glass_grants AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON break_glass_grants
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT ON break_glass_grants TO lockdev_runtime;
-- Only the end and the review change; what was asked, by whom and why never does.
GRANT UPDATE (ended_at, reviewed_at, reviewed_by, finding, review_note) ON break_glass_grants TO lockdev_runtime;
CREATE TRIGGER break_glass_grants_history AFTER INSERT OR UPDATE OR DELETE ON break_glass_grants
    FOR EACH ROW EXECUTE FUNCTION record_row_history();

-- The review queue across clinics, for platform auditors (the grants are tenant rows):
-- identifiers, names of the people who asked, times and reasons; never clinical content.
CREATE FUNCTION platform_break_glass_queue(include_reviewed boolean)
    RETURNS TABLE (organization_id uuid, id uuid, clinic text, patient_id uuid, mrn text, user_id uuid,
                   via text, role text, purpose text, reason text, started_at timestamptz,
                   expires_at timestamptz, ended_at timestamptz, reads bigint, reviewed_at timestamptz,
                   finding text, review_note text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    actor uuid := nullif(current_setting('app.user_id', true), '')::uuid;
    clinics uuid[];
    clinic_id uuid;
BEGIN
    IF nullif(current_setting('app.organization_id', true), '') IS NOT NULL OR actor IS NULL OR NOT EXISTS (
        SELECT 1 FROM platform_roles r WHERE r.user_id = actor AND r.role = 'auditor' AND r.revoked_at IS NULL)
    THEN
        RAISE EXCEPTION 'only an auditor reads the break-glass review queue' USING ERRCODE = 'insufficient_privilege';
    END IF;
    clinics := array(SELECT o.id FROM organizations o WHERE o.deleted_at IS NULL ORDER BY o.id);
    FOREACH clinic_id IN ARRAY clinics LOOP
        PERFORM set_config('app.organization_id', clinic_id::text, true);
        RETURN QUERY
            SELECT g.organization_id, g.id, o.name, g.patient_id, p.mrn, g.user_id, g.via, g.role, g.purpose,
                   g.reason, g.started_at, g.expires_at, g.ended_at,
                   (SELECT count(*) FROM audit_events e
                     WHERE e.organization_id = g.organization_id AND e.break_glass AND e.actor_user_id = g.user_id
                       AND e.patient_id = g.patient_id
                       AND e.occurred_at >= g.started_at AND e.occurred_at <= g.expires_at),
                   g.reviewed_at, g.finding, g.review_note
              FROM break_glass_grants g
              JOIN organizations o ON o.id = g.organization_id
              JOIN patients p ON p.organization_id = g.organization_id AND p.id = g.patient_id
             WHERE g.organization_id = clinic_id AND (include_reviewed OR g.reviewed_at IS NULL);
    END LOOP;
    PERFORM set_config('app.organization_id', '', true);
END $$;
REVOKE ALL ON FUNCTION platform_break_glass_queue(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_break_glass_queue(boolean) TO lockdev_runtime;

-- Closes one grant's review with a finding (auditor only; never one's own grant).
CREATE FUNCTION platform_break_glass_review(clinic uuid, grant_id uuid, given_finding text, note text, at timestamptz)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    actor uuid := nullif(current_setting('app.user_id', true), '')::uuid;
    done boolean;
BEGIN
    IF nullif(current_setting('app.organization_id', true), '') IS NOT NULL OR actor IS NULL OR NOT EXISTS (
        SELECT 1 FROM platform_roles r WHERE r.user_id = actor AND r.role = 'auditor' AND r.revoked_at IS NULL)
    THEN
        RAISE EXCEPTION 'only an auditor reviews a break-glass' USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('app.organization_id', clinic::text, true);
    UPDATE break_glass_grants g SET reviewed_at = at, reviewed_by = actor, finding = given_finding, review_note = note
     WHERE g.organization_id = clinic AND g.id = grant_id AND g.reviewed_at IS NULL AND g.user_id <> actor
       AND (g.ended_at IS NOT NULL OR g.expires_at <= at);
    done := FOUND;
    PERFORM set_config('app.organization_id', '', true);
    RETURN done;
END $$;
REVOKE ALL ON FUNCTION platform_break_glass_review(uuid, uuid, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_break_glass_review(uuid, uuid, text, text, timestamptz) TO lockdev_runtime;
