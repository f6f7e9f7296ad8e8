-- The application serves requests as a login role that is a member of lockdev_runtime
-- (created when the database is provisioned, see scripts/db/provision.sql). That role
-- owns nothing and cannot bypass row-level security; every privilege it has is granted
-- here, in migrations, so the grants are reviewed like any other schema change.

-- Nobody but the owner creates objects (PostgreSQL 15 already revokes this from PUBLIC;
-- stating it keeps older servers and hand-made databases in line).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO lockdev_runtime;

-- /health/deep compares the applied migrations with the binary's own list.
GRANT SELECT ON _sqlx_migrations TO lockdev_runtime;
