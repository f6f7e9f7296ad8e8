-- Creates (or brings up to date) the roles and the database Lockdev needs. Idempotent.
-- Run as a superuser with psql variables:
--   psql -v owner_password=… -v app_password=… -v database=lockdev -f scripts/db/provision.sql
--
-- lockdev_owner    owns the schema; runs migrations and seeding; may create databases
--                  (tests clone a migrated template database per test).
-- lockdev_runtime  NOLOGIN group that migrations grant privileges to.
-- lockdev_app      the login the server uses: a member of lockdev_runtime, nothing more.
--                  Not a superuser, no BYPASSRLS, owns nothing, so row-level security
--                  applies to every query it runs.
\set ON_ERROR_STOP on
SET client_min_messages = warning;


SELECT 'CREATE ROLE lockdev_runtime NOLOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lockdev_runtime')\gexec
SELECT 'CREATE ROLE lockdev_owner LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lockdev_owner')\gexec
SELECT 'CREATE ROLE lockdev_app LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lockdev_app')\gexec

ALTER ROLE lockdev_owner LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE lockdev_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION PASSWORD :'app_password';
GRANT lockdev_runtime TO lockdev_app;

SELECT format('CREATE DATABASE %I OWNER lockdev_owner', :'database')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database')\gexec
