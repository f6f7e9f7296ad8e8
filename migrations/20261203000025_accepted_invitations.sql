-- When the person accepted. Until then a membership or a proxy grant is only an
-- invitation: lists show the name the inviter typed, never the account's own (inviting
-- an address is no way to learn whose it is, also after the invitation is cancelled), and
-- a cancelled invitation cannot be "reactivated" into access nobody accepted.
--
-- Rows created directly (the demo, an administrator's own clinic) are accepted when
-- created; the invitation paths insert NULL, and the checks keep the two apart.
ALTER TABLE memberships ADD COLUMN accepted_at timestamptz DEFAULT now();
UPDATE memberships SET accepted_at = NULL WHERE status = 'invited';
ALTER TABLE memberships
    ADD CONSTRAINT memberships_invited_not_accepted CHECK (status <> 'invited' OR accepted_at IS NULL),
    ADD CONSTRAINT memberships_active_accepted CHECK (status <> 'active' OR accepted_at IS NOT NULL);

ALTER TABLE patient_proxy_assignments ADD COLUMN accepted_at timestamptz DEFAULT now();
UPDATE patient_proxy_assignments SET accepted_at = NULL WHERE status = 'pending';
ALTER TABLE patient_proxy_assignments
    ADD CONSTRAINT proxy_pending_not_accepted CHECK (status <> 'pending' OR accepted_at IS NULL),
    ADD CONSTRAINT proxy_active_accepted CHECK (status <> 'active' OR accepted_at IS NOT NULL);
