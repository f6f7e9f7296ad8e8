-- Merging a duplicate chart into the one that stays: every row that points at the
-- duplicate moves to the survivor, the duplicate is kept as a tombstone pointing to it
-- (removed from the registry, `merged_into` set), and the merge is recorded here, with
-- what moved. A merge is never edited or deleted; a wrong one is corrected by recording
-- another.
ALTER TABLE patients ADD COLUMN merged_into uuid,
    ADD CONSTRAINT patients_merged_into FOREIGN KEY (organization_id, merged_into) REFERENCES patients (organization_id, id),
    ADD CONSTRAINT patients_not_merged_into_itself CHECK (merged_into IS DISTINCT FROM id),
    ADD CONSTRAINT patients_merged_are_removed CHECK (merged_into IS NULL OR deleted_at IS NOT NULL);

CREATE TABLE patient_merges (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    survivor_id uuid NOT NULL,
    merged_id uuid NOT NULL,
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 300),
    -- Rows moved per table, and rows left with the tombstone because the survivor had
    -- the same already (a provider on both care teams, one number on both charts).
    moved jsonb NOT NULL,
    merged_by uuid REFERENCES users (id),
    merged_at timestamptz NOT NULL DEFAULT now(),
    CHECK (survivor_id <> merged_id),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, survivor_id) REFERENCES patients (organization_id, id),
    FOREIGN KEY (organization_id, merged_id) REFERENCES patients (organization_id, id)
);
CREATE UNIQUE INDEX patient_merges_once ON patient_merges (organization_id, merged_id);
ALTER TABLE patient_merges ENABLE ROW LEVEL SECURITY;
ALTER TABLE patient_merges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON patient_merges AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON patient_merges
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
-- Append-only for the application.
GRANT SELECT, INSERT ON patient_merges TO lockdev_runtime;
CREATE TRIGGER patient_merges_history AFTER INSERT OR UPDATE OR DELETE ON patient_merges
    FOR EACH ROW EXECUTE FUNCTION record_row_history();

-- A signed note stays final, with one exception: a merge moves it, unchanged, from the
-- duplicate to the chart that stays (and nothing else about it may change then).
CREATE OR REPLACE FUNCTION forbid_signed_note_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF OLD.status = 'signed' THEN
        IF NEW.patient_id <> OLD.patient_id
           AND (to_jsonb(NEW) - 'patient_id') = (to_jsonb(OLD) - 'patient_id')
           AND EXISTS (SELECT 1 FROM patients p
                        WHERE p.organization_id = OLD.organization_id AND p.id = OLD.patient_id
                          AND p.merged_into = NEW.patient_id) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'a signed note cannot be changed; add an addendum'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
