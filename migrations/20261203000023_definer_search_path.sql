-- SECURITY DEFINER functions run with their owner's rights. With pg_temp left out of the
-- search path, PostgreSQL searches it first for tables and views, so a caller could put
-- a temporary table in front of ours; naming it last closes that.
ALTER FUNCTION sync_user_context() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION record_row_history() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION audit_ensure_partitions(date, date) SET search_path = pg_catalog, public, pg_temp;
