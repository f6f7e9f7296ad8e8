-- The duplicate check at registration also catches near matches: a name typed with a
-- slip (edit distance, from fuzzystrmatch), first and last name swapped, or the same name
-- with the day and month of birth swapped or one digit apart. The names index serves the
-- last two (the identity index already serves "same date of birth").
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
CREATE INDEX patients_lower_name ON patients (organization_id, lower(family_name), lower(given_name));
