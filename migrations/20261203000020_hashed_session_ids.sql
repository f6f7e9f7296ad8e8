-- Session ids are stored as their SHA-256 (hex), like every other bearer secret: a copy
-- of the table (a backup, a replica, a support dump) no longer signs anyone in. The
-- record is also stored without the id it used to carry inside its data. Sessions in
-- the old form cannot be read by the new code, so they end here: everyone signs in once
-- more after this upgrade.
DELETE FROM user_sessions;
DELETE FROM tower_sessions.session;
ALTER TABLE tower_sessions.session ADD CONSTRAINT session_id_is_a_digest CHECK (id ~ '^[0-9a-f]{64}$');
ALTER TABLE user_sessions ADD CONSTRAINT user_session_id_is_a_digest CHECK (session_id ~ '^[0-9a-f]{64}$');
