-- A session row names the person it signs in, so that loading it also answers whether
-- that person may still act (account open, platform roles held) in the same single
-- query: routes outside a clinic re-check a person's standing on every request without
-- a second query (S7: one query per request for an unmodified session).
--
-- The column cannot be filled for existing rows (the person is inside the msgpack data),
-- and a signed-in row without it would be read as closed: existing sessions end here,
-- and everyone signs in once more after this upgrade. (Their index entries in
-- user_sessions point at nothing now; the account page lists only live sessions, and the
-- entries go at each person's next sign-in.)
DELETE FROM tower_sessions.session;
ALTER TABLE tower_sessions.session ADD COLUMN user_id uuid REFERENCES users (id) ON DELETE CASCADE;
