-- A patient's insurance coverage as the front desk records it from the card, and the
-- people to call in an emergency. An emergency contact is not a contact method: nothing
-- automated is ever sent there (the contact gate reads contact_methods only), and a
-- clinician calls them by hand.

CREATE TABLE insurance_policies (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    priority text NOT NULL CHECK (priority IN ('primary', 'secondary', 'tertiary')),
    payer text NOT NULL CHECK (length(payer) BETWEEN 1 AND 200),
    plan_name text CHECK (length(plan_name) <= 200),
    member_id text NOT NULL CHECK (length(member_id) BETWEEN 1 AND 40),
    group_number text CHECK (length(group_number) <= 40),
    subscriber_name text NOT NULL CHECK (length(subscriber_name) BETWEEN 1 AND 200),
    subscriber_relationship text NOT NULL CHECK (subscriber_relationship IN ('self', 'spouse', 'child', 'other')),
    subscriber_date_of_birth date,
    effective_on date,
    recorded_by uuid REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    ended_by uuid REFERENCES users (id),
    ended_reason text CHECK (length(ended_reason) <= 300),
    CHECK ((ended_at IS NULL) = (ended_reason IS NULL)),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id)
);
-- One current policy per priority.
CREATE UNIQUE INDEX insurance_policies_current
    ON insurance_policies (organization_id, patient_id, priority) WHERE ended_at IS NULL;
ALTER TABLE insurance_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE insurance_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON insurance_policies AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON insurance_policies
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON insurance_policies TO lockdev_runtime;
CREATE TRIGGER insurance_policies_history AFTER INSERT OR UPDATE OR DELETE ON insurance_policies
    FOR EACH ROW EXECUTE FUNCTION record_row_history();

CREATE TABLE emergency_contacts (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    relationship text NOT NULL CHECK (length(relationship) BETWEEN 1 AND 100),
    -- E.164, as contact_methods keeps phones.
    phone text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    recorded_by uuid REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    removed_at timestamptz,
    removed_by uuid REFERENCES users (id),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id)
);
CREATE INDEX emergency_contacts_patient ON emergency_contacts (organization_id, patient_id) WHERE removed_at IS NULL;
ALTER TABLE emergency_contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE emergency_contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON emergency_contacts AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON emergency_contacts
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON emergency_contacts TO lockdev_runtime;
CREATE TRIGGER emergency_contacts_history AFTER INSERT OR UPDATE OR DELETE ON emergency_contacts
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
