-- The clinic's profile beside its name, tax id and timezone: its postal address and main
-- phone number (what letters, claims and patients' reminders name), and the places it
-- sees patients. Kept by the clinic administrator; row history records every change.
ALTER TABLE organizations
    ADD COLUMN address_line1 text CHECK (length(btrim(address_line1)) BETWEEN 1 AND 200),
    ADD COLUMN address_line2 text CHECK (length(btrim(address_line2)) BETWEEN 1 AND 200),
    ADD COLUMN city text CHECK (length(btrim(city)) BETWEEN 1 AND 100),
    ADD COLUMN region char(2) CHECK (region ~ '^[A-Z]{2}$'),
    ADD COLUMN postal_code text CHECK (postal_code ~ '^[0-9]{5}(-[0-9]{4})?$'),
    ADD COLUMN phone text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$');

CREATE TABLE clinic_locations (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    address_line1 text NOT NULL CHECK (length(btrim(address_line1)) BETWEEN 1 AND 200),
    address_line2 text CHECK (length(btrim(address_line2)) BETWEEN 1 AND 200),
    city text NOT NULL CHECK (length(btrim(city)) BETWEEN 1 AND 100),
    region char(2) NOT NULL CHECK (region ~ '^[A-Z]{2}$'),
    postal_code text NOT NULL CHECK (postal_code ~ '^[0-9]{5}(-[0-9]{4})?$'),
    phone text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- A location the clinic no longer uses stays on record (visits may name it later).
    closed_at timestamptz,
    PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX clinic_locations_open_name ON clinic_locations (organization_id, lower(name))
    WHERE closed_at IS NULL;
ALTER TABLE clinic_locations ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinic_locations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON clinic_locations AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON clinic_locations
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON clinic_locations TO lockdev_runtime;
CREATE TRIGGER clinic_locations_history AFTER INSERT OR UPDATE OR DELETE ON clinic_locations
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
