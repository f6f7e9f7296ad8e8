-- A provider who works at two clinics is one person with two provider rows, and each
-- clinic's schedule sees only its own appointments. So that neither clinic books them for
-- a time they are already seeing a patient at the other, every live appointment leaves a
-- trace here: whose time (the person, not the clinic's provider row) and when. Nothing
-- about the patient or the visit.
--
-- Row-level security: a clinic writes only its own rows, and reads its own plus other
-- clinics' rows for the people who are providers at this clinic (the subquery on
-- providers is itself under the clinic's policies, so it names only this clinic's
-- providers). Without a clinic set, nothing is visible.
CREATE TABLE provider_busy_times (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    appointment_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    -- As for appointments: at most eight hours, so a lookup of what overlaps a window
    -- reads the starts from eight hours before it.
    CHECK (ends_at > starts_at AND ends_at - starts_at <= interval '8 hours'),
    PRIMARY KEY (organization_id, appointment_id),
    FOREIGN KEY (organization_id, appointment_id) REFERENCES appointments (organization_id, id) ON DELETE CASCADE
);
-- Plain timestamps in a btree, not a range in a GiST index: under row-level security only
-- leakproof operators reach an index, and range overlap is not one (a day's lookup read
-- every row of the table); timestamp comparisons are.
CREATE INDEX provider_busy_times_person ON provider_busy_times (user_id, starts_at);

ALTER TABLE provider_busy_times ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_busy_times FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON provider_busy_times AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR user_id IN (SELECT pr.user_id FROM providers pr WHERE pr.deleted_at IS NULL))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON provider_busy_times
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR user_id IN (SELECT pr.user_id FROM providers pr WHERE pr.deleted_at IS NULL))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
-- Reading another clinic's row is not changing it: an update or delete reaches only this
-- clinic's rows (the policies above would let it see, and so delete, the others).
CREATE POLICY own_rows_only_update ON provider_busy_times AS RESTRICTIVE FOR UPDATE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY own_rows_only_delete ON provider_busy_times AS RESTRICTIVE FOR DELETE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON provider_busy_times TO lockdev_runtime;

-- Kept by the appointment itself, in the same transaction as the booking, the move or the
-- cancellation: the statuses that hold a provider's time are the ones the clinic's own
-- exclusion constraint counts.
CREATE FUNCTION appointments_track_busy_time() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF NEW.status IN ('booked', 'checked_in', 'completed') THEN
        INSERT INTO provider_busy_times (organization_id, appointment_id, user_id, starts_at, ends_at)
        SELECT NEW.organization_id, NEW.id, pr.user_id, NEW.starts_at, NEW.ends_at
          FROM providers pr
         WHERE pr.organization_id = NEW.organization_id AND pr.id = NEW.provider_id
        ON CONFLICT (organization_id, appointment_id) DO UPDATE
            SET user_id = EXCLUDED.user_id, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at;
    ELSE
        DELETE FROM provider_busy_times
         WHERE organization_id = NEW.organization_id AND appointment_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER appointments_track_busy_time
    AFTER INSERT OR UPDATE OF provider_id, starts_at, ends_at, status ON appointments
    FOR EACH ROW EXECUTE FUNCTION appointments_track_busy_time();

-- Appointments booked before this: clinic by clinic (row-level security holds for the
-- owner too).
DO $$
DECLARE
    clinic uuid;
BEGIN
    FOR clinic IN SELECT id FROM organizations LOOP
        PERFORM set_config('app.organization_id', clinic::text, true);
        INSERT INTO provider_busy_times (organization_id, appointment_id, user_id, starts_at, ends_at)
        SELECT a.organization_id, a.id, pr.user_id, a.starts_at, a.ends_at
          FROM appointments a
          JOIN providers pr ON pr.organization_id = a.organization_id AND pr.id = a.provider_id
         WHERE a.status IN ('booked', 'checked_in', 'completed');
    END LOOP;
    PERFORM set_config('app.organization_id', '', true);
END
$$;
