-- The name a clinic typed when it invited someone. Until the person accepts, the members
-- page shows this name, not the one on their account: an address that already has an
-- account (at another clinic, or as a patient) must not reveal whose it is.
ALTER TABLE memberships ADD COLUMN invited_name text CHECK (length(btrim(invited_name)) BETWEEN 1 AND 200);

-- The same for a proxy invited by a clinic: the name the clinic typed, until they accept.
ALTER TABLE patient_proxy_assignments
    ADD COLUMN invited_name text CHECK (length(btrim(invited_name)) BETWEEN 1 AND 200);
