"""Reads mutmut's results after `mutmut run` and prints the score line and the survivors.

    mutation killed=K survived=S score=P

Score = (killed + timeout) / (every mutant tested): a mutant no selected test even runs
("no tests") counts as a survivor, since nothing would notice that bug. Survivors are listed
with their diff so each can be killed by a test or explained as equivalent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

MUTMUT = str(Path(sys.executable).with_name("mutmut"))
KILLED = {"killed", "timeout"}
SURVIVED = {"survived", "no tests"}


def results() -> dict[str, str]:
    """{mutant name: status} for every mutant."""
    out = subprocess.run([MUTMUT, "results", "--all", "true"], capture_output=True, text=True, check=True).stdout
    statuses = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            statuses[name] = status.strip()
    return statuses


def diff(name: str) -> str:
    shown = subprocess.run([MUTMUT, "show", name], capture_output=True, text=True, check=False).stdout
    return "\n".join(
        line for line in shown.splitlines() if line.startswith(("-", "+")) and line[:3] not in ("---", "+++")
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--min", type=float, default=90.0, help="the lowest acceptable score, in percent")
    parser.add_argument("--no-diffs", action="store_true")
    args = parser.parse_args()
    statuses = results()
    counts = Counter(statuses.values())
    killed = sum(counts[s] for s in KILLED)
    survivors = sorted(name for name, status in statuses.items() if status in SURVIVED)
    tested = killed + len(survivors)
    score = 100.0 * killed / tested if tested else 0.0
    by_module = Counter(name.split(".x", 1)[0] for name in survivors)
    for name in survivors:
        print(f"SURVIVED {name} ({statuses[name]})")
        if not args.no_diffs:
            print("    " + diff(name).replace("\n", "\n    "))
    for module, count in sorted(by_module.items()):
        print(f"survivors {module}: {count}")
    other = {status: n for status, n in counts.items() if status not in KILLED | SURVIVED}
    if other:
        print("not counted: " + json.dumps(other))
    print(f"mutation killed={killed} survived={len(survivors)} score={score:.1f}")
    return 0 if score >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())
