-- Patients and the people around them: proxies, care teams, contact methods.

CREATE TABLE patients (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    -- NULL for dependents (they never sign in) and for patients not yet activated.
    user_id uuid REFERENCES users (id),
    mrn text NOT NULL CHECK (mrn ~ '^[A-Za-z0-9-]{1,20}$'),
    given_name text NOT NULL CHECK (length(btrim(given_name)) BETWEEN 1 AND 100),
    middle_name text CHECK (length(middle_name) <= 100),
    family_name text NOT NULL CHECK (length(btrim(family_name)) BETWEEN 1 AND 100),
    preferred_name text CHECK (length(preferred_name) <= 100),
    date_of_birth date NOT NULL CHECK (date_of_birth >= DATE '1880-01-01'),
    -- Sex recorded for clinical and billing purposes (USCDI: female, male, unknown; X where law allows).
    legal_sex text NOT NULL CHECK (legal_sex IN ('female', 'male', 'x', 'unknown')),
    gender_identity text CHECK (length(gender_identity) <= 100),
    timezone text CHECK (timezone ~ '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$'),
    -- An adult managing their own care (as opposed to a dependent reached through proxies).
    is_self_managed boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, mrn),
    -- One patient record per person per clinic.
    UNIQUE (organization_id, user_id)
);
CREATE INDEX patients_name ON patients (organization_id, family_name, given_name);
CREATE INDEX patients_dob ON patients (organization_id, date_of_birth);
CREATE TRIGGER patients_touch BEFORE UPDATE ON patients
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE patients ENABLE ROW LEVEL SECURITY;
ALTER TABLE patients FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON patients AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON patients
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON patients TO lockdev_runtime;

-- A person (a user) allowed to act for a patient, within scopes, for a time.
CREATE TABLE patient_proxy_assignments (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    proxy_user_id uuid NOT NULL REFERENCES users (id),
    relationship text NOT NULL CHECK (relationship IN ('parent', 'guardian', 'poa', 'spouse', 'other')),
    can_view_clinical boolean NOT NULL DEFAULT false,
    can_view_billing boolean NOT NULL DEFAULT false,
    can_schedule boolean NOT NULL DEFAULT false,
    can_message boolean NOT NULL DEFAULT false,
    -- The uploaded proof (court order, birth certificate); the documents table arrives later.
    proof_document_id uuid,
    starts_at timestamptz NOT NULL DEFAULT now(),
    -- E.g. the day a minor comes of age; NULL = until revoked.
    expires_at timestamptz,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'revoked')),
    granted_by uuid REFERENCES users (id),
    revoked_at timestamptz,
    revoked_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CHECK (expires_at IS NULL OR expires_at > starts_at)
);
-- At most one live grant per proxy and patient; history keeps the revoked ones.
CREATE UNIQUE INDEX patient_proxy_assignments_live
    ON patient_proxy_assignments (organization_id, patient_id, proxy_user_id) WHERE status <> 'revoked';
CREATE INDEX patient_proxy_assignments_proxy ON patient_proxy_assignments (organization_id, proxy_user_id);
CREATE TRIGGER patient_proxy_assignments_touch BEFORE UPDATE ON patient_proxy_assignments
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE patient_proxy_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE patient_proxy_assignments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON patient_proxy_assignments AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON patient_proxy_assignments
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON patient_proxy_assignments TO lockdev_runtime;

CREATE TABLE care_team_members (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    provider_id uuid NOT NULL,
    role text NOT NULL CHECK (role IN ('primary', 'specialist', 'consultant')),
    added_by uuid REFERENCES users (id),
    added_at timestamptz NOT NULL DEFAULT now(),
    removed_at timestamptz,
    removed_by uuid REFERENCES users (id),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id),
    FOREIGN KEY (organization_id, provider_id) REFERENCES providers (organization_id, id)
);
CREATE UNIQUE INDEX care_team_members_live
    ON care_team_members (organization_id, patient_id, provider_id) WHERE removed_at IS NULL;
-- One primary provider at a time.
CREATE UNIQUE INDEX care_team_members_one_primary
    ON care_team_members (organization_id, patient_id) WHERE role = 'primary' AND removed_at IS NULL;
CREATE INDEX care_team_members_provider ON care_team_members (organization_id, provider_id) WHERE removed_at IS NULL;
ALTER TABLE care_team_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE care_team_members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON care_team_members AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON care_team_members
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON care_team_members TO lockdev_runtime;

-- A patient's phone numbers and e-mail addresses as the clinic records them. Phones are
-- E.164. Unknown means unsafe: every safe-to-contact flag starts false, and automated
-- messages go only where a flag says they may.
CREATE TABLE contact_methods (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('mobile', 'home', 'work', 'email')),
    value text NOT NULL,
    is_primary boolean NOT NULL DEFAULT false,
    is_safe_for_voicemail boolean NOT NULL DEFAULT false,
    is_safe_for_sms boolean NOT NULL DEFAULT false,
    is_safe_for_email boolean NOT NULL DEFAULT false,
    verified_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id),
    CHECK (CASE WHEN kind = 'email' THEN value ~ '^[^@[:space:]]+@[^@[:space:]]+$'
                ELSE value ~ '^\+[1-9][0-9]{6,14}$' END),
    -- A flag that cannot apply to the kind stays false (no voicemail to an e-mail address).
    CHECK (kind <> 'email' OR NOT (is_safe_for_voicemail OR is_safe_for_sms)),
    CHECK (kind = 'email' OR NOT is_safe_for_email),
    CHECK (kind = 'mobile' OR NOT is_safe_for_sms)
);
CREATE INDEX contact_methods_patient ON contact_methods (organization_id, patient_id);
-- Caller-number and duplicate lookups are exact matches on the normalized value.
CREATE INDEX contact_methods_value ON contact_methods (organization_id, value) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX contact_methods_one_primary ON contact_methods (organization_id, patient_id, kind)
    WHERE is_primary AND deleted_at IS NULL;
CREATE TRIGGER contact_methods_touch BEFORE UPDATE ON contact_methods
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE contact_methods ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_methods FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON contact_methods AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON contact_methods
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON contact_methods TO lockdev_runtime;
