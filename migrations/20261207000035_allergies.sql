-- Allergies and intolerances, as a clinician records them in the chart. An allergy that
-- no longer applies (outgrown, or entered in error) is ended with its reason, never
-- deleted: the history of what a clinician was told matters when a reaction happens.
CREATE TABLE allergies (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    substance text NOT NULL CHECK (length(substance) BETWEEN 1 AND 200),
    reaction text CHECK (length(reaction) <= 300),
    severity text NOT NULL CHECK (severity IN ('mild', 'moderate', 'severe', 'unknown')),
    recorded_by uuid REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    ended_by uuid REFERENCES users (id),
    ended_reason text CHECK (length(ended_reason) <= 300),
    CHECK ((ended_at IS NULL) = (ended_reason IS NULL)),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id)
);
CREATE INDEX allergies_current ON allergies (organization_id, patient_id) WHERE ended_at IS NULL;
ALTER TABLE allergies ENABLE ROW LEVEL SECURITY;
ALTER TABLE allergies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON allergies AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON allergies
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON allergies TO lockdev_runtime;
CREATE TRIGGER allergies_history AFTER INSERT OR UPDATE OR DELETE ON allergies
    FOR EACH ROW EXECUTE FUNCTION record_row_history();

-- "No known allergies" is a statement a clinician made, at a time, not the absence of
-- rows: a chart nobody asked about says "not recorded". Recording an allergy withdraws it.
ALTER TABLE patients ADD COLUMN no_known_allergies_at timestamptz,
                     ADD COLUMN no_known_allergies_by uuid REFERENCES users (id);
