-- A proxy's address receives a patient's reminders and messages only once someone allowed
-- to decide where messages go (contact safety) has confirmed it: granting access is not
-- the same as redirecting the patient's messages. The confirmed sign-in address is kept,
-- so a proxy who changes theirs is unconfirmed again (like a chart contact whose number
-- changed). Grants made before this have no confirmation and send nothing to the proxy
-- until one is recorded.
ALTER TABLE patient_proxy_assignments
    ADD COLUMN messages_safe_at timestamptz,
    ADD COLUMN messages_safe_by uuid REFERENCES users (id),
    ADD COLUMN messages_safe_email citext,
    ADD CONSTRAINT patient_proxy_assignments_messages_safe_by
        CHECK ((messages_safe_at IS NULL) = (messages_safe_by IS NULL)
               AND (messages_safe_at IS NULL) = (messages_safe_email IS NULL));
