-- Background work and outbound communication: the job queue, the record of every
-- automated message (sent or blocked), staff tasks raised by blocked messages, text
-- opt-outs, and live schedule updates through LISTEN/NOTIFY.

-- ---- the job queue -------------------------------------------------------------------------
--
-- A job is claimed with FOR UPDATE SKIP LOCKED in a short transaction that moves it to
-- 'running' and sets its lease: run_at becomes the lease's end (locked_until keeps the
-- same instant for people reading the table). A worker that dies simply stops renewing
-- nothing: once run_at passes, the same claim query picks the job up again. `attempts`
-- is also the fencing token: a worker finishes a job only if attempts still equals the
-- value it claimed, so a worker whose lease was taken over cannot finish it twice.
CREATE TABLE jobs (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    -- The clinic whose context the work runs in; NULL for platform work (sealing, e-mail
    -- to a person's sign-in address, clean-up).
    organization_id uuid REFERENCES organizations (id),
    kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,62}$'),
    -- Identifiers only, never patient data (checked by tests over every kind).
    payload jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object' AND length(payload::text) <= 2000),
    idempotency_key text CHECK (length(idempotency_key) <= 200),
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL DEFAULT 8 CHECK (max_attempts BETWEEN 1 AND 100),
    locked_by text CHECK (length(locked_by) <= 200),
    locked_until timestamptz,
    last_error text CHECK (length(last_error) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);
-- The claim query's only index: what is due, oldest first.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('queued', 'running');
CREATE UNIQUE INDEX jobs_idempotency ON jobs (kind, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_dead ON jobs (finished_at) WHERE state = 'dead';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state = 'done';
-- A clinic's transaction sees and writes only its own jobs (and may queue platform work
-- such as an account e-mail); workers, in the platform context, see the whole queue.
-- Payloads are identifiers, so the whole queue holds no patient data.
ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON jobs AS RESTRICTIVE
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL
           OR organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id IS NULL
                OR nullif(current_setting('app.organization_id', true), '') IS NULL
                OR organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON jobs
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL
           OR organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id IS NULL
                OR nullif(current_setting('app.organization_id', true), '') IS NULL
                OR organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
-- DELETE: finished rows (identifiers only) are pruned after a week.
GRANT SELECT, INSERT, UPDATE, DELETE ON jobs TO lockdev_runtime;

-- Wakes idle workers when work is queued. NOTIFY is delivered at commit, so a worker
-- never wakes for a job whose transaction rolled back; notifications with the same
-- payload in one transaction are folded into one.
CREATE FUNCTION jobs_wake_workers() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('lockdev_jobs', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_wake_workers AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_wake_workers();

-- What the probe job kind did: one row per run, keyed by the job. Health checks and the
-- crash tests use it to prove each job took effect exactly once.
CREATE TABLE job_probe_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id uuid NOT NULL,
    worker text NOT NULL,
    ran_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_probe_runs_job ON job_probe_runs (job_id);
ALTER TABLE job_probe_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_probe_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON job_probe_runs
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL);
GRANT SELECT, INSERT ON job_probe_runs TO lockdev_runtime;

-- ---- account e-mail on the queue -----------------------------------------------------------
--
-- Invitations, resets and verifications carry a one-time link, a secret. The rendered
-- message waits here encrypted with the data key until the job sends it; the body is
-- then erased. Any context may queue one; only the platform context reads them.
CREATE TABLE outbound_emails (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    -- The clinic whose request queued it (an invitation); NULL for platform mail.
    organization_id uuid REFERENCES organizations (id),
    to_address citext NOT NULL CHECK (length(to_address) <= 320),
    sealed_message bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
-- A clinic queues mail in its own name; only the platform context (the sending job) reads.
ALTER TABLE outbound_emails ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbound_emails FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON outbound_emails AS RESTRICTIVE
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL
                OR organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON outbound_emails
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL
                OR organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON outbound_emails TO lockdev_runtime;

-- ---- the contact gate's inputs -------------------------------------------------------------

ALTER TABLE organizations
    -- Hours before an appointment at which a reminder goes out, largest first.
    ADD COLUMN reminder_lead_hours integer[] NOT NULL DEFAULT '{72,24}'
        CHECK (cardinality(reminder_lead_hours) <= 4 AND 0 < ALL (reminder_lead_hours)
               AND 336 >= ALL (reminder_lead_hours)),
    -- No automated call or text outside these wall-clock hours in the recipient's zone.
    ADD COLUMN contact_window_start time NOT NULL DEFAULT '08:00',
    ADD COLUMN contact_window_end time NOT NULL DEFAULT '21:00',
    -- The number messages ask people to call back (E.164). Without it texts and calls
    -- point to the patient portal only.
    ADD COLUMN callback_phone text CHECK (callback_phone ~ '^\+[1-9][0-9]{6,14}$'),
    ADD CONSTRAINT organizations_contact_window CHECK (contact_window_start < contact_window_end);

-- The channel a patient prefers for each kind of message. Absent = the clinic's order
-- (text, then e-mail, then voice). A preference orders the safe channels; it never makes
-- an unsafe one usable.
CREATE TABLE contact_preferences (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    patient_id uuid NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('appointments', 'billing', 'messages')),
    -- NULL: no preference (the clinic's order).
    channel text CHECK (channel IN ('sms', 'email', 'voice')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid REFERENCES users (id),
    PRIMARY KEY (organization_id, patient_id, purpose),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id)
);
ALTER TABLE contact_preferences ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_preferences FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON contact_preferences AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON contact_preferences
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON contact_preferences TO lockdev_runtime;

-- Replies of STOP (and its synonyms) to our sending number. Opt-outs belong to the phone
-- number, not to a clinic or a consent form: the carrier rules say a number that said
-- STOP gets no more texts from us until it says START. Holds numbers only.
CREATE TABLE sms_opt_outs (
    phone text PRIMARY KEY CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    opted_out boolean NOT NULL,
    keyword text NOT NULL CHECK (length(keyword) <= 20),
    changed_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE sms_opt_outs ENABLE ROW LEVEL SECURITY;
ALTER TABLE sms_opt_outs FORCE ROW LEVEL SECURITY;
-- The platform context (the inbound endpoint) reads and writes them all; a clinic's
-- transaction (the gate) sees the opt-outs of numbers it has on file, and no others.
CREATE POLICY platform_or_known_number ON sms_opt_outs FOR SELECT
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL
           OR EXISTS (SELECT 1 FROM contact_methods c WHERE c.value = sms_opt_outs.phone));
CREATE POLICY platform_writes ON sms_opt_outs FOR INSERT
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL);
CREATE POLICY platform_updates ON sms_opt_outs FOR UPDATE
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL);
GRANT SELECT, INSERT, UPDATE ON sms_opt_outs TO lockdev_runtime;

-- ---- what was sent, and what was not -------------------------------------------------------
--
-- One row per automated message: the gate's decision, where it went (a contact method, a
-- proxy) and what became of it. A blocked message stays here with its reason and raises
-- a staff task; it is never dropped silently.
CREATE TABLE notifications (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('appointments', 'billing', 'messages')),
    template text NOT NULL CHECK (template ~ '^[a-z_]{1,40}$'),
    -- What the message is about (an appointment at subject_at), and a reminder's lead in hours.
    subject_id uuid,
    subject_at timestamptz,
    lead_hours integer,
    -- Set once decided.
    -- withdrawn: the appointment was cancelled or moved before the message went out.
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'blocked', 'failed', 'withdrawn')),
    channel text CHECK (channel IN ('sms', 'email', 'voice')),
    contact_method_id uuid,
    -- A proxy receiving it for a dependent.
    recipient_user_id uuid REFERENCES users (id),
    -- SHA-256 of the address or number, so the record proves where it went without
    -- holding the number itself.
    destination_hash text,
    -- The contact method's updated_at when the gate read its flags.
    safety_version timestamptz,
    block_reason text CHECK (length(block_reason) <= 300),
    provider_message_id text CHECK (length(provider_message_id) <= 200),
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id),
    FOREIGN KEY (organization_id, contact_method_id) REFERENCES contact_methods (organization_id, id),
    CHECK ((status = 'blocked') = (block_reason IS NOT NULL))
);
CREATE INDEX notifications_patient ON notifications (organization_id, patient_id, created_at DESC);
CREATE INDEX notifications_recent ON notifications (organization_id, created_at DESC);
-- One reminder per appointment, start time and lead (a moved appointment gets new ones).
CREATE UNIQUE INDEX notifications_one_reminder ON notifications (organization_id, subject_id, subject_at, template, lead_hours)
    WHERE subject_id IS NOT NULL;
ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON notifications AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON notifications
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON notifications TO lockdev_runtime;

-- Work for people: a message the gate would not send, so someone calls the patient.
CREATE TABLE staff_tasks (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL DEFAULT new_ulid(),
    patient_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('message_blocked')),
    notification_id uuid,
    summary text NOT NULL CHECK (length(summary) BETWEEN 1 AND 300),
    created_at timestamptz NOT NULL DEFAULT now(),
    done_at timestamptz,
    done_by uuid REFERENCES users (id),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, patient_id) REFERENCES patients (organization_id, id),
    FOREIGN KEY (organization_id, notification_id) REFERENCES notifications (organization_id, id),
    CHECK ((done_at IS NULL) = (done_by IS NULL))
);
CREATE INDEX staff_tasks_open ON staff_tasks (organization_id, created_at) WHERE done_at IS NULL;
ALTER TABLE staff_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE staff_tasks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_guard ON staff_tasks AS RESTRICTIVE
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
CREATE POLICY tenant_access ON staff_tasks
    USING (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid)
    WITH CHECK (organization_id = nullif(current_setting('app.organization_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON staff_tasks TO lockdev_runtime;

-- The development outbox for texts and calls (the local default of the SMS and voice
-- channels), readable at /dev/outbox in development. Platform only, like the mailbox.
CREATE TABLE dev_phone_outbox (
    id uuid PRIMARY KEY DEFAULT new_ulid(),
    channel text NOT NULL CHECK (channel IN ('sms', 'voice')),
    to_number text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE dev_phone_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE dev_phone_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON dev_phone_outbox
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL);
GRANT SELECT, INSERT ON dev_phone_outbox TO lockdev_runtime;

-- ---- live schedule updates -----------------------------------------------------------------
--
-- Every change to an appointment is announced on one channel after commit; each app
-- process listens once and passes the event to the schedule pages of that clinic. The
-- payload is identifiers only: the page fetches what changed through a normal, authorized
-- request.
CREATE FUNCTION appointments_announce() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('lockdev_schedule', json_build_object(
        'organization_id', NEW.organization_id,
        'appointment_id', NEW.id,
        'provider_id', NEW.provider_id,
        'change', CASE WHEN TG_OP = 'INSERT' THEN 'booked' ELSE NEW.status END)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER appointments_announce AFTER INSERT OR UPDATE ON appointments
    FOR EACH ROW EXECUTE FUNCTION appointments_announce();
