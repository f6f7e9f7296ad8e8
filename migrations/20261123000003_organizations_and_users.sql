-- Global identity: clinics (the tenants) and the people who sign in.
--
-- Row-level security conventions used from here on (settings are transaction-local,
-- set by the application with set_config(..., true) at the start of each transaction):
--   app.organization_id  the tenant of a TenantTx; unset or '' in a SystemTx
--   app.user_id          the signed-in user, when there is one
-- An unset setting reads as NULL through nullif(..., ''), and a comparison with NULL is
-- never true: without a context, policies let nothing through.

CREATE TABLE organizations (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    -- US employer identification number, digits only.
    tax_id text CHECK (tax_id ~ '^[0-9]{9}$'),
    -- IANA zone name, validated by the application (chrono-tz) before it gets here.
    timezone text NOT NULL DEFAULT 'America/New_York' CHECK (timezone ~ '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$'),
    settings jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE TRIGGER organizations_touch BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- A tenant transaction sees its own organization only; platform work (no tenant set:
-- choosing a context at sign-in, the platform console) sees them all.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON organizations AS RESTRICTIVE
    USING (id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR nullif(current_setting('app.organization_id', true), '') IS NULL);
CREATE POLICY tenant_access ON organizations
    USING (id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR nullif(current_setting('app.organization_id', true), '') IS NULL);
GRANT SELECT, INSERT, UPDATE ON organizations TO lockdev_runtime;

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    email citext NOT NULL UNIQUE CHECK (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    display_name text NOT NULL CHECK (length(btrim(display_name)) BETWEEN 1 AND 200),
    -- Argon2id PHC string; NULL until the person sets a password (invited, dependent-free proxies...).
    password_hash text,
    -- When a second factor was first confirmed; NULL = not enrolled. Factors live in their own tables.
    mfa_enrolled_at timestamptz,
    -- Overrides the organization's zone for what this person sees.
    timezone text CHECK (timezone ~ '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$'),
    email_verified_at timestamptz,
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
GRANT SELECT, INSERT, UPDATE ON users TO lockdev_runtime;
-- The users policy needs the tenant tables that link people to a clinic; it is created
-- with them in the next migration.

-- Platform roles are not clinic memberships: a super admin belongs to no clinic and
-- reaches patient data only through break-glass; an auditor reads the audit log.
CREATE TABLE platform_roles (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    user_id uuid NOT NULL REFERENCES users (id),
    role text NOT NULL CHECK (role IN ('super_admin', 'auditor')),
    granted_by uuid REFERENCES users (id),
    granted_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_by uuid REFERENCES users (id),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE UNIQUE INDEX platform_roles_live ON platform_roles (user_id, role) WHERE revoked_at IS NULL;
-- Visible to platform work and to the person holding the role; never inside a tenant.
ALTER TABLE platform_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON platform_roles
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL
           OR user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL);
GRANT SELECT, INSERT, UPDATE ON platform_roles TO lockdev_runtime;

-- A person's own phone numbers and addresses (proxies, staff), independent of any clinic.
-- Patients' contact methods are clinic records and live in the tenant table
-- contact_methods instead.
CREATE TABLE user_contact_methods (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    user_id uuid NOT NULL REFERENCES users (id),
    kind text NOT NULL CHECK (kind IN ('mobile', 'home', 'work', 'email')),
    value text NOT NULL,
    is_primary boolean NOT NULL DEFAULT false,
    -- Unknown means unsafe: every flag starts false.
    is_safe_for_voicemail boolean NOT NULL DEFAULT false,
    is_safe_for_sms boolean NOT NULL DEFAULT false,
    is_safe_for_email boolean NOT NULL DEFAULT false,
    verified_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CHECK (CASE WHEN kind = 'email' THEN value ~ '^[^@[:space:]]+@[^@[:space:]]+$'
                ELSE value ~ '^\+[1-9][0-9]{6,14}$' END)
);
CREATE INDEX user_contact_methods_user ON user_contact_methods (user_id);
CREATE UNIQUE INDEX user_contact_methods_one_primary ON user_contact_methods (user_id, kind)
    WHERE is_primary AND deleted_at IS NULL;
CREATE TRIGGER user_contact_methods_touch BEFORE UPDATE ON user_contact_methods
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE user_contact_methods ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_contact_methods FORCE ROW LEVEL SECURITY;
-- The owner and platform work only; a clinic reaches a proxy's numbers through the
-- notification gate, which runs as platform work.
CREATE POLICY owner_or_platform ON user_contact_methods
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid
           OR nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid
                OR nullif(current_setting('app.organization_id', true), '') IS NULL);
GRANT SELECT, INSERT, UPDATE ON user_contact_methods TO lockdev_runtime;
