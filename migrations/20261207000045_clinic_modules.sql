-- Which parts of the product a clinic uses. Stored as the parts it switched off, so a
-- clinic uses everything until its administrator says otherwise; the names are the
-- registry's (`auth::policy::Module`). A switched-off part's pages answer 404 for the
-- clinic and leave its navigation; its data stays.
ALTER TABLE organizations
    ADD COLUMN disabled_modules text[] NOT NULL DEFAULT '{}'
        CHECK (disabled_modules <@ ARRAY['patient_portal', 'self_scheduling', 'messaging', 'call_center',
                                         'documents', 'ai_summaries', 'billing']::text[]);
