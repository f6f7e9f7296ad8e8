-- Setting up an authenticator app is a pending step of its own: the new secret waits
-- here until a code from the app confirms it, and only then replaces the working one.
-- (Keeping it in totp_credentials meant that merely opening the set-up page turned off
-- the app a person already had.)
CREATE TABLE totp_enrolments (
    user_id uuid PRIMARY KEY REFERENCES users (id),
    secret_ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE totp_enrolments ENABLE ROW LEVEL SECURITY;
ALTER TABLE totp_enrolments FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON totp_enrolments
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON totp_enrolments TO lockdev_runtime;

-- Pending secrets made by the old design are discarded; nobody had confirmed them.
DELETE FROM totp_credentials WHERE confirmed_at IS NULL;
ALTER TABLE totp_credentials ALTER COLUMN confirmed_at SET NOT NULL;
