# Lockdev tasks. `just run` to try it, `just test` before you push, `just check` for lints.
# With no LOCKDEV_DATABASE_URL set, a project-local PostgreSQL under .data/ is started.

set shell := ["bash", "-euo", "pipefail", "-c"]
set dotenv-load := true

# Local cluster for `just run` and `just db`; tests use a throw-away one of their own.
pg := "scripts/pg.sh"
# The local cluster's URLs, unless the environment (or .env) already names a database.
with_db := 'if [ -z "${LOCKDEV_DATABASE_URL:-}" ]; then scripts/pg.sh up; eval "$(scripts/pg.sh env)"; fi;'

# List the recipes.
default:
    @just --list --unsorted

# Start the database, migrate, load demo data and serve on http://127.0.0.1:3000.
run:
    @{{with_db}} export LOCKDEV_ENV=${LOCKDEV_ENV:-development} LOCKDEV_LOG_FORMAT=${LOCKDEV_LOG_FORMAT:-text}; \
    cargo build --quiet --bin lockdev; \
    cargo run --quiet --bin lockdev -- migrate; \
    cargo run --quiet --bin lockdev -- seed-demo; \
    echo; echo "Lockdev is running at ${LOCKDEV_PUBLIC_URL:-http://${LOCKDEV_BIND:-127.0.0.1:3000}}  (Ctrl-C to stop)"; echo; \
    exec cargo run --quiet --bin lockdev -- serve

# Run every test against a throw-away PostgreSQL (or the configured one), a local AWS
# emulator and headless Chromium (installed on first use).
test *args:
    @scripts/ensure-browser.sh
    @scripts/with-test-db.sh scripts/with-aws-emulator.sh bash -c 'if cargo nextest --version >/dev/null 2>&1; then cargo nextest run --no-fail-fast {{args}}; else cargo test --no-fail-fast {{args}}; fi'

# Formatting, clippy (warnings are errors), sqlx offline data, dependencies (cargo deny),
# Dockerfile, workflow and shell lints.
check:
    cargo fmt --all -- --check
    cargo clippy --all-targets --quiet -- -D warnings
    scripts/with-test-db.sh scripts/sqlx-prepare.sh --check
    scripts/deny.sh
    scripts/lint-infra.sh

# Regenerate .sqlx/ after adding or changing a query! macro.
sqlx-prepare:
    scripts/with-test-db.sh scripts/sqlx-prepare.sh

# Benchmarks: floors and scenarios, report in target/bench/.
bench *args:
    LOCKDEV_PG_DURABLE=1 scripts/with-test-db.sh python3 scripts/bench.py {{args}}

# Clean and one-file-change release build times (about ten minutes), for the bench report.
bench-build:
    scripts/build-times.sh

# Start the project-local PostgreSQL (.data/pg) and print its settings.
db:
    {{pg}} up
    {{pg}} env

# Stop the project-local PostgreSQL (data is kept).
db-stop:
    {{pg}} down

# Delete the project-local PostgreSQL and its data, then start a fresh one.
db-reset:
    {{pg}} reset
    {{pg}} up

# Apply migrations to the configured (or local) database.
migrate:
    @{{with_db}} cargo run --quiet --bin lockdev -- migrate
