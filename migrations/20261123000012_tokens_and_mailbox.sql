-- Single-use tokens sent by e-mail: invitations (staff, patient portal activation,
-- proxies), e-mail verification and password reset. Only a SHA-256 of the token is
-- stored; the payload carries ids and flags, never patient data.

CREATE TABLE auth_tokens (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    purpose text NOT NULL CHECK (purpose IN (
        'staff_invitation', 'patient_activation', 'proxy_invitation', 'email_verification', 'password_reset')),
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- The person it is for, when they already exist.
    user_id uuid REFERENCES users (id),
    email citext NOT NULL,
    -- The clinic an invitation is from.
    organization_id uuid REFERENCES organizations (id),
    payload jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(payload) = 'object'),
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz,
    CHECK (purpose NOT IN ('staff_invitation', 'patient_activation', 'proxy_invitation') OR organization_id IS NOT NULL)
);
CREATE INDEX auth_tokens_organization ON auth_tokens (organization_id, purpose) WHERE used_at IS NULL;
-- A clinic sees its own invitations; redemption (by the unguessable hash) and account
-- tokens are platform work.
ALTER TABLE auth_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON auth_tokens AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid OR nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid OR nullif(current_setting('app.organization_id', true), '') IS NULL);
CREATE POLICY tenant_access ON auth_tokens
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid OR nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid OR nullif(current_setting('app.organization_id', true), '') IS NULL);
GRANT SELECT, INSERT, UPDATE ON auth_tokens TO lockdev_runtime;

-- The development mailbox: where e-mail goes when LOCKDEV_MAILER=dev (development only),
-- readable at /dev/mailbox.
CREATE TABLE dev_mailbox (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    to_address text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE dev_mailbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE dev_mailbox FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON dev_mailbox
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL);
GRANT SELECT, INSERT ON dev_mailbox TO lockdev_runtime;
