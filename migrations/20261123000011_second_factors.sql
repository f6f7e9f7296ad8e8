-- Second factors and sign-in throttling. Each row belongs to one person and is visible
-- only in transactions that name that person (app.user_id).

-- TOTP: the shared secret encrypted with the data key (version byte, nonce, ciphertext);
-- confirmed_at NULL until the person proves their app shows the right code.
CREATE TABLE totp_credentials (
    user_id uuid PRIMARY KEY REFERENCES users (id),
    secret_ciphertext bytea NOT NULL,
    confirmed_at timestamptz,
    -- The last accepted 30-second step; a code is accepted only for a later step, so a
    -- code cannot be replayed (updated atomically).
    last_used_step bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE totp_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE totp_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON totp_credentials
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON totp_credentials TO lockdev_runtime;

-- Ten single-use codes per batch, stored as SHA-256 (they carry 80 random bits);
-- generating a new batch removes the old one.
CREATE TABLE recovery_codes (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    user_id uuid NOT NULL REFERENCES users (id),
    code_hash bytea NOT NULL CHECK (length(code_hash) = 32),
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, code_hash)
);
ALTER TABLE recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE recovery_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON recovery_codes
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON recovery_codes TO lockdev_runtime;

CREATE TABLE passkeys (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    user_id uuid NOT NULL REFERENCES users (id),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 60),
    credential_id bytea NOT NULL UNIQUE,
    -- The credential as the WebAuthn library serializes it (public key, counter, flags).
    passkey jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    -- Set when a signature counter went backwards (a cloned authenticator).
    disabled_at timestamptz
);
CREATE INDEX passkeys_user ON passkeys (user_id);
ALTER TABLE passkeys ENABLE ROW LEVEL SECURITY;
ALTER TABLE passkeys FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON passkeys
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON passkeys TO lockdev_runtime;

-- Finding a passkey by its credential id during passwordless sign-in happens before
-- anyone is identified; this function answers only "whose is it", nothing else.
CREATE FUNCTION passkey_owner(credential bytea) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT user_id FROM passkeys WHERE credential_id = credential AND disabled_at IS NULL
$$;
REVOKE ALL ON FUNCTION passkey_owner(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION passkey_owner(bytea) TO lockdev_runtime;

-- WebAuthn ceremony state, server-side, consumed exactly once (DELETE ... RETURNING).
CREATE TABLE webauthn_ceremonies (
    id uuid PRIMARY KEY,
    -- NULL for passwordless sign-in, where nobody is identified yet.
    user_id uuid REFERENCES users (id),
    kind text NOT NULL CHECK (kind IN ('register', 'authenticate', 'discover')),
    state jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE webauthn_ceremonies ENABLE ROW LEVEL SECURITY;
ALTER TABLE webauthn_ceremonies FORCE ROW LEVEL SECURITY;
-- Platform work only (sign-in and factor changes run as platform work): never visible
-- inside a clinic's transaction.
CREATE POLICY platform_only ON webauthn_ceremonies
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL AND (user_id IS NULL OR user_id = nullif(current_setting('app.user_id', true), '')::uuid))
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL AND (user_id IS NULL OR user_id = nullif(current_setting('app.user_id', true), '')::uuid));
GRANT SELECT, INSERT, DELETE ON webauthn_ceremonies TO lockdev_runtime;

-- Failed attempts per person and factor, for the soft lock with growing back-off.
CREATE TABLE sign_in_throttle (
    user_id uuid NOT NULL REFERENCES users (id),
    factor text NOT NULL CHECK (factor IN ('password', 'second_factor')),
    failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    window_started_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    PRIMARY KEY (user_id, factor)
);
ALTER TABLE sign_in_throttle ENABLE ROW LEVEL SECURITY;
ALTER TABLE sign_in_throttle FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON sign_in_throttle
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON sign_in_throttle TO lockdev_runtime;
