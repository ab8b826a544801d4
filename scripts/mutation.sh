#!/usr/bin/env bash
# make mutation: mutmut plants small bugs, one at a time, in the business rules listed under
# [tool.mutmut] in pyproject.toml (the grading engine's decisions and parsing, usage pricing,
# periods and services, billing's status mapping, upload validation, the exports' marks and
# codes) and runs the tests of those rules against each; a mutant no test fails "survived".
# Prints `mutation killed=K survived=S score=P` and the survivors; exits non-zero under
# MUTATION_MIN (percent, default 90). Not part of make test (README: how long it takes).
# CORRIGO_MUTATION=1 tells tests/conftest.py to keep one test database for the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
rm -rf mutants
export DJANGO_ALLOW_ASYNC_UNSAFE=true CORRIGO_MUTATION=1
status=0
timeout "${MUTATION_TIMEOUT:-5400}" scripts/with-services.sh .venv/bin/mutmut run --max-children "${MUTATION_CHILDREN:-2}" \
    >var/mutation.log 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    echo "mutmut stopped with status $status (log: var/mutation.log)" >&2
    tail -n 20 var/mutation.log >&2
    exit "$status"
fi
.venv/bin/python scripts/mutation_report.py --min "${MUTATION_MIN:-90}"
