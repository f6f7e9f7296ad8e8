-- Vital signs, one row per set measured together, stored as integers in one unit each
-- (mmHg, beats and breaths per minute, tenths of a degree Celsius, percent, grams,
-- millimetres) whatever unit they were typed in. A set entered in error is ended with the reason, never deleted.
CREATE TABLE vitals (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    measured_at timestamptz NOT NULL,
    systolic smallint CHECK (systolic BETWEEN 50 AND 300),
    diastolic smallint CHECK (diastolic BETWEEN 20 AND 200),
    CHECK ((systolic IS NULL) = (diastolic IS NULL) AND (systolic IS NULL OR diastolic < systolic)),
    pulse smallint CHECK (pulse BETWEEN 20 AND 300),
    respiratory_rate smallint CHECK (respiratory_rate BETWEEN 4 AND 80),
    temperature_dc smallint CHECK (temperature_dc BETWEEN 300 AND 450),
    spo2 smallint CHECK (spo2 BETWEEN 50 AND 100),
    weight_g integer CHECK (weight_g BETWEEN 200 AND 500000),
    height_mm smallint CHECK (height_mm BETWEEN 200 AND 2500),
    CHECK (num_nonnulls(systolic, pulse, respiratory_rate, temperature_dc, spo2, weight_g, height_mm) > 0),
    recorded_by uuid REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    ended_by uuid REFERENCES users (id),
    ended_reason text CHECK (length(ended_reason) <= 300),
    CHECK ((ended_at IS NULL) = (ended_reason IS NULL)),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id)
);
CREATE INDEX vitals_patient ON vitals (organization_id, patient_id, measured_at DESC) WHERE ended_at IS NULL;
ALTER TABLE vitals ENABLE ROW LEVEL SECURITY;
ALTER TABLE vitals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON vitals AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON vitals
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON vitals TO lockdev_runtime;
CREATE TRIGGER vitals_history AFTER INSERT OR UPDATE OR DELETE ON vitals
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
