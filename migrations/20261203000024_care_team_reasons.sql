-- Why someone was put on, or taken off, a patient's care team. Membership opens the
-- clinical record (sensitive notes, care-team-only charts), so every change says why.
ALTER TABLE care_team_members
    ADD COLUMN added_reason text CHECK (length(btrim(added_reason)) BETWEEN 1 AND 300),
    ADD COLUMN removed_reason text CHECK (length(btrim(removed_reason)) BETWEEN 1 AND 300);
