#!/usr/bin/env bash
# make mutation: mutmut plants small bugs, one at a time, in the business rules listed under
# [tool.mutmut] in pyproject.toml (the grading engine's decisions and parsing, usage pricing,
# periods and services, billing's status mapping, upload validation, the exports' marks and
# codes, the passing on of copies between grading processes) and runs the tests of those rules
# against each; a mutant no test fails "survived".
# Prints `mutation killed=K survived=S score=P` and the survivors; exits non-zero under
# MUTATION_MIN (percent, default 90). Not part of make test (README: how long it takes).
# CORRIGO_MUTATION=1 tells tests/conftest.py to keep one test database for the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
rm -rf mutants
export DJANGO_ALLOW_ASYNC_UNSAFE=true CORRIGO_MUTATION=1
# The mutants whose tests use the process's fixed Redis keys (tests/conftest.py, SERIAL_TESTS) run
# first, one at a time; then the others, MUTATION_CHILDREN at once (mutmut keeps the results it
# has, so the second run does not test the first one's mutants again).
SERIAL_MUTANTS="grading.services.passing_on.*"
deadline=$(($(date +%s) + ${MUTATION_TIMEOUT:-5400}))
: >var/mutation.log
run() {
    local left=$((deadline - $(date +%s)))
    if [ "$left" -le 0 ]; then
        echo "mutmut stopped: MUTATION_TIMEOUT reached (log: var/mutation.log)" >&2
        exit 124
    fi
    local status=0
    timeout "$left" scripts/with-services.sh .venv/bin/mutmut run "$@" >>var/mutation.log 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        echo "mutmut stopped with status $status (log: var/mutation.log)" >&2
        tail -n 20 var/mutation.log >&2
        exit "$status"
    fi
}
run --max-children 1 "$SERIAL_MUTANTS"
run --max-children "${MUTATION_CHILDREN:-2}"
.venv/bin/python scripts/mutation_report.py --min "${MUTATION_MIN:-90}"
