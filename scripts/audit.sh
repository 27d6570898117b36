#!/usr/bin/env bash
# `make audit`: check the pinned Python dependencies (constraints.txt) for known vulnerabilities with
# pip-audit (pinned in scripts/audit-constraints.txt, installed into .cache/pip-audit-venv).
# --strict: a package that could not be audited (e.g. the vulnerability service is unreachable) fails
# the run instead of passing silently.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.cache/pip-audit-venv"
service="${AUDIT_SERVICE:-pypi}"   # pypi (the Python package index's JSON API) or osv (the OSV API)
if [[ ! -x "$venv/bin/pip-audit" ]] || ! "$venv/bin/pip-audit" --version | grep -q "2.10.1"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -c "$root/scripts/audit-constraints.txt" pip-audit==2.10.1
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if "$venv/bin/pip-audit" -r "$root/constraints.txt" --no-deps --disable-pip --strict \
    --vulnerability-service "$service" --progress-spinner off 2>&1 | tee "$log"; then
  exit 0
fi
if grep -q "could not be audited\|ConnectionError\|NameResolutionError" "$log"; then
  echo "make audit: FAILED: the vulnerability service ($service) could not be queried from this machine," \
       "so the dependencies were NOT audited (see above). Run it where the package index's JSON API" \
       "or the OSV API is reachable (AUDIT_SERVICE=osv)." >&2
else
  echo "make audit: FAILED: known vulnerabilities in constraints.txt (see above)." >&2
fi
exit 1
