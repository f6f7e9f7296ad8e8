-- Shared building blocks for the data model.

-- Case-insensitive e-mail addresses (trusted extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS citext;

-- A ULID as a uuid: 48 bits of Unix milliseconds, then random bits. Ids made in the
-- database (history rows, defaults) sort by creation time like the ones Rust makes, and
-- print as the same 26-character text in URLs.
CREATE FUNCTION new_ulid() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    SELECT encode(
        substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        || substring(uuid_send(gen_random_uuid()) FROM 7),
        'hex')::uuid
$$;

-- The National Provider Identifier check digit (Luhn over the number prefixed with 80840).
-- The application validates first and explains; this keeps bad data out of the table
-- whatever writes it.
CREATE FUNCTION npi_is_valid(npi text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    digits text := '80840' || npi;
    total int := 0;
    d int;
    i int;
BEGIN
    IF npi !~ '^[0-9]{10}$' THEN
        RETURN false;
    END IF;
    -- Walk from the rightmost digit; double every second one.
    FOR i IN 1..length(digits) LOOP
        d := substr(digits, length(digits) - i + 1, 1)::int;
        IF i % 2 = 0 THEN
            d := d * 2;
            IF d > 9 THEN
                d := d - 9;
            END IF;
        END IF;
        total := total + d;
    END LOOP;
    RETURN total % 10 = 0;
END
$$;

-- A DEA registration number: two letters (registrant type, then the registrant's initial
-- or 9) and seven digits, the last a check digit over the other six.
CREATE FUNCTION dea_number_is_valid(dea text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    -- CASE, not AND: SQL does not promise to test the pattern before casting the digits.
    SELECT CASE WHEN dea ~ '^[A-Z][A-Z9][0-9]{7}$' THEN
               ((substr(dea, 3, 1)::int + substr(dea, 5, 1)::int + substr(dea, 7, 1)::int)
                + 2 * (substr(dea, 4, 1)::int + substr(dea, 6, 1)::int + substr(dea, 8, 1)::int)) % 10
               = substr(dea, 9, 1)::int
           ELSE false END
$$;

-- updated_at maintained by the database, so no code path can forget it.
CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
