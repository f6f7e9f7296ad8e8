-- The staff workspace: finding patients, their demographics, scheduling and clinical
-- notes. Every table follows the tenant rules (organization_id in the key and in every
-- foreign key, forced row-level security with a restrictive guard).

-- Exclusion constraints over (uuid =, range &&) need btree_gist; unaccent folds accents
-- for name search. Both are trusted extensions, so the owner role may create them.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- ---- demographics ------------------------------------------------------------------------

ALTER TABLE patients
    ADD COLUMN address_line1 text CHECK (length(address_line1) <= 200),
    ADD COLUMN address_line2 text CHECK (length(address_line2) <= 200),
    ADD COLUMN city text CHECK (length(city) <= 100),
    ADD COLUMN region text CHECK (length(region) <= 100),
    ADD COLUMN postal_code text CHECK (length(postal_code) <= 20),
    ADD COLUMN preferred_language text CHECK (length(preferred_language) <= 60),
    -- The patient asked for confidential communication (HIPAA 164.522(b)): staff see a
    -- banner, and automated messages use only the contacts flagged safe.
    ADD COLUMN confidential_communication boolean NOT NULL DEFAULT false,
    ADD COLUMN confidential_note text CHECK (length(confidential_note) <= 500),
    ADD COLUMN created_by uuid REFERENCES users (id),
    ADD COLUMN deleted_by uuid REFERENCES users (id);

-- MRNs handed out per clinic: the next number, taken under the row lock.
CREATE TABLE mrn_counters (
    organization_id uuid PRIMARY KEY REFERENCES organizations (id),
    next_value bigint NOT NULL DEFAULT 1 CHECK (next_value > 0)
);
ALTER TABLE mrn_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE mrn_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON mrn_counters AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON mrn_counters
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON mrn_counters TO lockdev_runtime;

-- ---- search under row-level security ------------------------------------------------------
--
-- ILIKE and the trigram operators are not LEAKPROOF, so under RLS PostgreSQL must filter
-- the whole tenant before it may apply them, and their index goes unused. Text equality
-- and ordering (texteq, text_ge, text_lt) are LEAKPROOF: a btree range scan over name
-- tokens is allowed below the security barrier. So each patient's names are split into
-- folded tokens here, and a name fragment is a prefix range over them
-- (token >= 'smi' AND token < 'smj'): an index range scan inside one tenant, with RLS
-- still applied and no SECURITY DEFINER code in the read path.
CREATE TABLE patient_search_tokens (
    organization_id uuid NOT NULL,
    token text COLLATE "C" NOT NULL CHECK (length(token) BETWEEN 1 AND 100),
    patient_id uuid NOT NULL,
    PRIMARY KEY (organization_id, token, patient_id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id)
);
CREATE INDEX patient_search_tokens_patient ON patient_search_tokens (organization_id, patient_id);
ALTER TABLE patient_search_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE patient_search_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON patient_search_tokens AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON patient_search_tokens
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, DELETE ON patient_search_tokens TO lockdev_runtime;

-- The folding both sides agree on: accents removed, lower case, split on anything that
-- is not a letter or digit. The application folds search input with this same function.
CREATE FUNCTION search_tokens(input text) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, public
AS $$
    SELECT DISTINCT left(token, 100)
      FROM regexp_split_to_table(lower(public.unaccent('public.unaccent', coalesce(input, ''))), '[^[:alnum:]]+') AS token
     WHERE token <> ''
$$;

CREATE FUNCTION refresh_patient_search_tokens() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.given_name IS NOT DISTINCT FROM OLD.given_name
           AND NEW.middle_name IS NOT DISTINCT FROM OLD.middle_name
           AND NEW.family_name IS NOT DISTINCT FROM OLD.family_name
           AND NEW.preferred_name IS NOT DISTINCT FROM OLD.preferred_name
           AND NEW.deleted_at IS NOT DISTINCT FROM OLD.deleted_at THEN
            RETURN NULL;
        END IF;
        DELETE FROM patient_search_tokens
         WHERE organization_id = NEW.organization_id AND patient_id = NEW.id;
    END IF;
    -- A soft-deleted patient is no longer found by name.
    IF NEW.deleted_at IS NULL THEN
        INSERT INTO patient_search_tokens (organization_id, token, patient_id)
        SELECT NEW.organization_id, token, NEW.id
          FROM search_tokens(concat_ws(' ', NEW.given_name, NEW.middle_name, NEW.family_name, NEW.preferred_name)) AS token
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER patients_search_tokens AFTER INSERT OR UPDATE ON patients
    FOR EACH ROW EXECUTE FUNCTION refresh_patient_search_tokens();

-- Exact lookups: MRN has its unique index; date of birth its own; phone and e-mail the
-- contact value index. Duplicate detection asks for same name + date of birth.
CREATE INDEX patients_identity ON patients (organization_id, date_of_birth, lower(family_name), lower(given_name))
    WHERE deleted_at IS NULL;

-- ---- contacts -----------------------------------------------------------------------------

ALTER TABLE contact_methods
    ADD COLUMN label text CHECK (length(label) <= 100),
    ADD COLUMN verified_by uuid REFERENCES users (id);

-- ---- proxies ------------------------------------------------------------------------------

-- What the clinic saw as proof of the relationship (until documents can be uploaded):
-- "birth certificate seen at the desk", "court order no. ...".
ALTER TABLE patient_proxy_assignments
    ADD COLUMN proof_note text CHECK (length(proof_note) <= 300);

-- ---- scheduling ---------------------------------------------------------------------------

-- Weekly working hours in the organization's timezone (local wall-clock times, so 09:00
-- stays 09:00 across daylight-saving changes). ISO weekday: 1 = Monday ... 7 = Sunday.
CREATE TABLE provider_working_hours (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    provider_id uuid NOT NULL,
    weekday smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    starts time NOT NULL,
    ends time NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, provider_id) REFERENCES providers (organization_id, id),
    CHECK (ends > starts),
    EXCLUDE USING gist (organization_id WITH =, provider_id WITH =, weekday WITH =,
                        tsrange(DATE '2000-01-01' + starts, DATE '2000-01-01' + ends) WITH &&)
);
ALTER TABLE provider_working_hours ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_working_hours FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON provider_working_hours AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON provider_working_hours
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, DELETE ON provider_working_hours TO lockdev_runtime;

CREATE TABLE appointment_types (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, name)
);
ALTER TABLE appointment_types ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointment_types FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON appointment_types AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON appointment_types
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON appointment_types TO lockdev_runtime;

CREATE TABLE appointments (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    provider_id uuid NOT NULL,
    appointment_type_id uuid NOT NULL,
    -- UTC instants; shown in the viewer's timezone.
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'booked'
        CHECK (status IN ('booked', 'checked_in', 'completed', 'cancelled', 'no_show')),
    -- Why the patient is coming, in their words. PHI.
    reason text CHECK (length(reason) <= 500),
    booked_by uuid REFERENCES users (id),
    checked_in_at timestamptz,
    cancelled_at timestamptz,
    cancelled_by uuid REFERENCES users (id),
    cancel_reason text CHECK (length(cancel_reason) <= 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id),
    FOREIGN KEY (organization_id, provider_id) REFERENCES providers (organization_id, id),
    FOREIGN KEY (organization_id, appointment_type_id) REFERENCES appointment_types (organization_id, id),
    CHECK (ends_at > starts_at AND ends_at - starts_at <= interval '8 hours'),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    -- No double booking, whatever code path writes: a provider's live appointments never
    -- overlap ([start, end) ranges, so back-to-back slots are fine).
    CONSTRAINT appointments_no_double_booking EXCLUDE USING gist (
        organization_id WITH =, provider_id WITH =, tstzrange(starts_at, ends_at) WITH &&
    ) WHERE (status IN ('booked', 'checked_in', 'completed'))
);
CREATE INDEX appointments_provider_time ON appointments (organization_id, provider_id, starts_at);
CREATE INDEX appointments_day ON appointments (organization_id, starts_at);
CREATE INDEX appointments_patient ON appointments (organization_id, patient_id, starts_at);
CREATE TRIGGER appointments_touch BEFORE UPDATE ON appointments
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE appointments ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON appointments AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON appointments
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON appointments TO lockdev_runtime;

-- ---- clinical notes -----------------------------------------------------------------------

CREATE TABLE clinical_notes (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    appointment_id uuid,
    author_user_id uuid NOT NULL REFERENCES users (id),
    title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    subjective text NOT NULL DEFAULT '' CHECK (length(subjective) <= 20000),
    objective text NOT NULL DEFAULT '' CHECK (length(objective) <= 20000),
    assessment text NOT NULL DEFAULT '' CHECK (length(assessment) <= 20000),
    plan text NOT NULL DEFAULT '' CHECK (length(plan) <= 20000),
    -- Categories with stricter law (42 CFR Part 2, state law): readable by the care
    -- team's providers only, never by proxies.
    sensitive_category text
        CHECK (sensitive_category IN ('behavioral_health', 'substance_use', 'sexual_reproductive')),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'signed')),
    signed_at timestamptz,
    signed_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id),
    FOREIGN KEY (organization_id, appointment_id) REFERENCES appointments (organization_id, id),
    CHECK ((status = 'signed') = (signed_at IS NOT NULL AND signed_by IS NOT NULL)),
    CHECK (status = 'draft' OR deleted_at IS NULL)
);
CREATE INDEX clinical_notes_patient ON clinical_notes (organization_id, patient_id, created_at DESC);
CREATE TRIGGER clinical_notes_touch BEFORE UPDATE ON clinical_notes
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- A signed note is the legal record: no column changes afterwards, for any role, through
-- any code path. Corrections are addenda.
CREATE FUNCTION forbid_signed_note_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF OLD.status = 'signed' THEN
        RAISE EXCEPTION 'a signed note cannot be changed; add an addendum'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER clinical_notes_signed_are_final BEFORE UPDATE ON clinical_notes
    FOR EACH ROW EXECUTE FUNCTION forbid_signed_note_change();
ALTER TABLE clinical_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinical_notes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON clinical_notes AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON clinical_notes
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON clinical_notes TO lockdev_runtime;

-- Corrections and additions to a signed note; append-only.
CREATE TABLE clinical_note_addenda (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    note_id uuid NOT NULL,
    author_user_id uuid NOT NULL REFERENCES users (id),
    body text NOT NULL CHECK (length(btrim(body)) BETWEEN 1 AND 20000),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, note_id) REFERENCES clinical_notes (organization_id, id)
);
CREATE INDEX clinical_note_addenda_note ON clinical_note_addenda (organization_id, note_id, created_at);
CREATE TRIGGER clinical_note_addenda_append_only BEFORE UPDATE OR DELETE ON clinical_note_addenda
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
ALTER TABLE clinical_note_addenda ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinical_note_addenda FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON clinical_note_addenda AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON clinical_note_addenda
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT ON clinical_note_addenda TO lockdev_runtime;

-- ---- history ------------------------------------------------------------------------------

CREATE TRIGGER provider_working_hours_history AFTER INSERT OR UPDATE OR DELETE ON provider_working_hours
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER appointment_types_history AFTER INSERT OR UPDATE OR DELETE ON appointment_types
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER appointments_history AFTER INSERT OR UPDATE OR DELETE ON appointments
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER clinical_notes_history AFTER INSERT OR UPDATE OR DELETE ON clinical_notes
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
CREATE TRIGGER clinical_note_addenda_history AFTER INSERT OR UPDATE OR DELETE ON clinical_note_addenda
    FOR EACH ROW EXECUTE FUNCTION record_row_history();
