-- Server-side sessions. The session table has the layout of the tower-sessions
-- Postgres store (id, msgpack data, expiry); our own store implementation reads and
-- writes it (see src/auth/session_store.rs). It holds user ids, timestamps and tokens,
-- never patient data. user_sessions indexes sessions by person, so that every session
-- of a person can be ended at once (password change, MFA change, "sign out my other
-- sessions") and listed on the account page.

CREATE SCHEMA tower_sessions;
GRANT USAGE ON SCHEMA tower_sessions TO lockdev_runtime;

CREATE TABLE tower_sessions.session (
    id text PRIMARY KEY,
    data bytea NOT NULL,
    expiry_date timestamptz NOT NULL
);
CREATE INDEX session_expiry ON tower_sessions.session (expiry_date);
-- Looked up by the cookie's random id only; no tenant or person column to filter on.
GRANT SELECT, INSERT, UPDATE, DELETE ON tower_sessions.session TO lockdev_runtime;

CREATE TABLE user_sessions (
    session_id text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ip inet,
    user_agent text CHECK (length(user_agent) <= 500)
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
-- A person's own sessions only.
ALTER TABLE user_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY own_sessions ON user_sessions
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid)
    WITH CHECK (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON user_sessions TO lockdev_runtime;

-- The context a person last chose, to send them straight back to it.
ALTER TABLE users ADD COLUMN last_context text CHECK (length(last_context) <= 200);
