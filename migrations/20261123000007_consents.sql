-- Consent documents (terms of service, notice of privacy practices, SMS terms,
-- treatment consent), platform-wide or a clinic's own, versioned; and who accepted which
-- version, when and from where.

CREATE TABLE consent_documents (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    -- NULL: a platform-wide document (terms of service).
    organization_id uuid REFERENCES organizations (id),
    kind text NOT NULL CHECK (kind IN ('terms_of_service', 'privacy_notice', 'sms', 'treatment')),
    version text NOT NULL CHECK (version ~ '^[0-9A-Za-z.-]{1,20}$'),
    title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    body text NOT NULL CHECK (length(body) BETWEEN 1 AND 200000),
    effective_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (organization_id, kind, version)
);
-- Platform documents are public text, readable everywhere; a clinic's own only inside it.
ALTER TABLE consent_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE consent_documents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON consent_documents AS RESTRICTIVE
    USING (organization_id IS NULL OR organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL));
CREATE POLICY tenant_access ON consent_documents
    USING (organization_id IS NULL OR organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid OR (organization_id IS NULL AND nullif(current_setting('app.organization_id', true), '') IS NULL));
GRANT SELECT, INSERT ON consent_documents TO lockdev_runtime;

CREATE TABLE consents (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    -- NULL for acceptance of a platform document.
    organization_id uuid REFERENCES organizations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    document_id uuid NOT NULL REFERENCES consent_documents (id),
    -- Set when the consent is given for a patient (a parent consenting to treatment).
    patient_id uuid,
    accepted_at timestamptz NOT NULL DEFAULT now(),
    ip inet,
    user_agent text CHECK (length(user_agent) <= 500),
    withdrawn_at timestamptz,
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id),
    CHECK (patient_id IS NULL OR organization_id IS NOT NULL)
);
CREATE INDEX consents_user ON consents (user_id, document_id);
CREATE INDEX consents_organization ON consents (organization_id, user_id);
-- A clinic's consents inside that clinic; a person's platform consents to that person.
ALTER TABLE consents ENABLE ROW LEVEL SECURITY;
ALTER TABLE consents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON consents AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (organization_id IS NULL AND user_id = nullif(current_setting('app.user_id', true), '')::uuid))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR (organization_id IS NULL AND user_id = nullif(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY tenant_access ON consents
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
           OR (organization_id IS NULL AND user_id = nullif(current_setting('app.user_id', true), '')::uuid))
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid
                OR (organization_id IS NULL AND user_id = nullif(current_setting('app.user_id', true), '')::uuid));
GRANT SELECT, INSERT, UPDATE ON consents TO lockdev_runtime;

-- A consent must be to a document of its own clinic or a platform document. A plain
-- foreign key cannot say that, and foreign-key checks ignore row-level security, so a
-- trigger looks the document up as the writer (whose policies hide other clinics').
CREATE FUNCTION consents_document_in_scope() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    document_org uuid;
BEGIN
    SELECT organization_id INTO document_org FROM consent_documents WHERE id = NEW.document_id;
    IF NOT FOUND OR (document_org IS NOT NULL AND document_org IS DISTINCT FROM NEW.organization_id) THEN
        RAISE EXCEPTION 'consent document % is not available to this organization', NEW.document_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER consents_document_in_scope BEFORE INSERT OR UPDATE OF document_id, organization_id ON consents
    FOR EACH ROW EXECUTE FUNCTION consents_document_in_scope();
