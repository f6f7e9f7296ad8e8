-- A sensitive visit (behavioural health, substance-use treatment, sexual and
-- reproductive health): its free-text reason is never shown to a proxy, and no reminder
-- about it goes to a proxy's contact. An appointment type can be sensitive (every visit
-- of it is), and a single visit can be marked so when it is booked.
ALTER TABLE appointment_types ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
ALTER TABLE appointments ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
