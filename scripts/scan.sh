#!/usr/bin/env bash
# `make scan`: bandit on our code and pip-audit on every pinned package
# (requirements/constraints.txt), JSON reports in reports/ (git-ignored).
#
# Exit status: 0 clean; 1 a bandit finding of medium severity or more, or a known
# vulnerability; 2 something could not be checked. When pip-audit reaches no vulnerability
# service (or cannot look a package up) it prints "NOT AUDITED: <reason>" and the scan FAILS
# with 2: a security gate that could not look is not a pass.
#
#   scripts/scan.sh               bandit + pip-audit (make scan)
#   scripts/scan.sh --bandit-only bandit only; says the audit was not done (CI: no
#                                 vulnerability service is reachable from CI machines)
#
# AUDIT_SERVICE=osv selects OSV instead of PyPI's JSON API (pip-audit -s).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
PY=${PY:-.venv/bin/python}
mode=${1:-all}
mkdir -p reports
rm -f reports/bandit.json reports/pip-audit.json reports/pip-audit.log

# bandit's configuration lives in pyproject.toml [tool.bandit]; -c makes bandit read it.
# Its own exit status (1 on any finding, low ones included) is not the gate: scan_report is.
"$PY" -m bandit -c pyproject.toml -r . -f json -o reports/bandit.json -q
"$PY" scripts/scan_report.py bandit reports/bandit.json
bandit_status=$?

if [ "$mode" = "--bandit-only" ]; then
  echo "pip-audit: NOT AUDITED: skipped (--bandit-only); the known-vulnerability check was not done."
  exit $bandit_status
fi

"$PY" -m pip_audit --strict --no-deps --disable-pip -r requirements/constraints.txt \
  -s "${AUDIT_SERVICE:-pypi}" --timeout 20 --progress-spinner off \
  -f json -o reports/pip-audit.json 2>reports/pip-audit.log
"$PY" scripts/scan_report.py pip-audit reports/pip-audit.json reports/pip-audit.log
audit_status=$?

# Findings (1) outrank "not checked" (2): either way the scan fails.
if [ $bandit_status = 1 ] || [ $audit_status = 1 ]; then exit 1; fi
if [ $bandit_status != 0 ] || [ $audit_status != 0 ]; then exit 2; fi
exit 0
