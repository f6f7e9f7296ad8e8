-- Who works at a clinic and as what. A person may hold several roles at one clinic and
-- roles at several clinics; each (organization, user, role) is one membership.
--
-- Every tenant table: organization_id NOT NULL, primary key (organization_id, id) so that
-- uniqueness is per tenant (a global unique index would tell one tenant whether an id
-- exists in another), foreign keys that carry organization_id so a row can never point
-- into another tenant, and forced row-level security with a restrictive guard.

CREATE TABLE memberships (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    user_id uuid NOT NULL REFERENCES users (id),
    role text NOT NULL
        CHECK (role IN ('provider', 'clinical_staff', 'admin_staff', 'call_center_agent', 'org_admin')),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('invited', 'active', 'suspended', 'removed')),
    invited_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, user_id, role)
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE TRIGGER memberships_touch BEFORE UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON memberships AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON memberships
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON memberships TO lockdev_runtime;

-- A clinician's professional identity at one clinic (the same person at two clinics has
-- two rows, with the same NPI).
CREATE TABLE providers (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    user_id uuid NOT NULL REFERENCES users (id),
    npi text NOT NULL CHECK (npi_is_valid(npi)),
    dea_number text CHECK (dea_number_is_valid(dea_number)),
    credentials text NOT NULL CHECK (credentials IN ('MD', 'DO', 'NP', 'PA')),
    specialty text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, user_id),
    UNIQUE (organization_id, npi)
);
CREATE TRIGGER providers_touch BEFORE UPDATE ON providers
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE providers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON providers AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON providers
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON providers TO lockdev_runtime;

CREATE TABLE provider_licenses (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    provider_id uuid NOT NULL,
    state char(2) NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    license_number text NOT NULL CHECK (length(btrim(license_number)) BETWEEN 1 AND 40),
    expires_on date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, provider_id) REFERENCES providers (organization_id, id),
    UNIQUE (organization_id, provider_id, state, license_number)
);
CREATE TRIGGER provider_licenses_touch BEFORE UPDATE ON provider_licenses
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE provider_licenses ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_licenses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON provider_licenses AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON provider_licenses
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON provider_licenses TO lockdev_runtime;

CREATE TABLE staff (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    user_id uuid NOT NULL REFERENCES users (id),
    employee_id text CHECK (length(btrim(employee_id)) BETWEEN 1 AND 40),
    job_title text CHECK (length(btrim(job_title)) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, user_id),
    UNIQUE (organization_id, employee_id)
);
CREATE TRIGGER staff_touch BEFORE UPDATE ON staff
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE staff ENABLE ROW LEVEL SECURITY;
ALTER TABLE staff FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON staff AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON staff
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON staff TO lockdev_runtime;
