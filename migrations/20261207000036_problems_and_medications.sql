-- The problem list and the medication list: what a clinician keeps current in the chart.
-- Neither is ever deleted: a problem resolves (with the date), a medication stops (with
-- the date and why), and an entry made in error ends saying so.

CREATE TABLE problems (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 200),
    -- Optional coding: ICD-10-CM or SNOMED CT, checked by the application.
    code_system text CHECK (code_system IN ('icd10', 'snomed')),
    code text CHECK (length(code) <= 20),
    CHECK ((code_system IS NULL) = (code IS NULL)),
    onset_on date,
    recorded_by uuid REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    resolved_on date,
    ended_at timestamptz,
    ended_by uuid REFERENCES users (id),
    ended_reason text CHECK (length(ended_reason) <= 300),
    CHECK ((ended_at IS NULL) = (ended_reason IS NULL)),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id)
);
CREATE INDEX problems_patient ON problems (organization_id, patient_id);

CREATE TABLE medications (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    dose text CHECK (length(dose) <= 100),
    frequency text CHECK (length(frequency) <= 100),
    started_on date,
    prescriber text CHECK (length(prescriber) <= 200),
    recorded_by uuid REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    stopped_on date,
    stopped_by uuid REFERENCES users (id),
    stopped_reason text CHECK (length(stopped_reason) <= 300),
    CHECK ((stopped_on IS NULL) = (stopped_reason IS NULL)),
    CHECK (stopped_on IS NULL OR started_on IS NULL OR stopped_on >= started_on),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id)
);
CREATE INDEX medications_patient ON medications (organization_id, patient_id);

ALTER TABLE problems ENABLE ROW LEVEL SECURITY;
ALTER TABLE problems FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON problems AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON problems
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON problems TO lockdev_runtime;
CREATE TRIGGER problems_history AFTER INSERT OR UPDATE OR DELETE ON problems
    FOR EACH ROW EXECUTE FUNCTION record_row_history();

ALTER TABLE medications ENABLE ROW LEVEL SECURITY;
ALTER TABLE medications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON medications AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON medications
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON medications TO lockdev_runtime;
CREATE TRIGGER medications_history AFTER INSERT OR UPDATE OR DELETE ON medications
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
