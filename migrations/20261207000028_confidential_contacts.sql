-- The contacts a patient designated for confidential communication. A dependent's chart
-- usually carries a parent's numbers: a message about sensitive care of a dependent (or
-- any message for one who asked for confidential communication) goes only to contacts
-- marked here, and with none is not sent (staff get a task instead).
ALTER TABLE contact_methods ADD COLUMN is_confidential boolean NOT NULL DEFAULT false;
