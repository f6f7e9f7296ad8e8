-- A number or an address is on a patient's chart once: the contact forms already refuse a
-- second entry of the same value, and the index makes it a rule of the data. The caller-
-- number and e-mail lookups then find each patient once without a DISTINCT (whose sort
-- over every column was most of the lookup's cost beyond the index reads, S4).
--
-- Any duplicates written before this (by hand) keep their oldest entry; the later ones
-- are retired as a removal through the app would retire them, clinic by clinic
-- (row-level security holds for the owner too).
DO $$
DECLARE
    clinic uuid;
BEGIN
    FOR clinic IN SELECT id FROM organizations LOOP
        PERFORM set_config('app.organization_id', clinic::text, true);
        UPDATE contact_methods c SET deleted_at = now(), is_primary = false
         WHERE c.deleted_at IS NULL
           AND EXISTS (SELECT 1 FROM contact_methods o
                        WHERE o.patient_id = c.patient_id AND o.value = c.value AND o.deleted_at IS NULL
                          AND (o.created_at, o.id) < (c.created_at, c.id));
    END LOOP;
    PERFORM set_config('app.organization_id', '', true);
END
$$;
CREATE UNIQUE INDEX contact_methods_once_per_chart ON contact_methods (organization_id, patient_id, value)
    WHERE deleted_at IS NULL;

-- The lookup by value reads the patient from the index itself (no visit to the table).
DROP INDEX contact_methods_value;
CREATE INDEX contact_methods_value ON contact_methods (organization_id, value) INCLUDE (patient_id)
    WHERE deleted_at IS NULL;
