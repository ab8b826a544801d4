"""Reads the JSON reports of `make scan` and turns them into a verdict (scripts/scan.sh).

    scan_report.py bandit reports/bandit.json
    scan_report.py pip-audit reports/pip-audit.json reports/pip-audit.log

Exit codes: 0 clean, 1 findings (bandit medium or high; a known vulnerability),
2 not checked (a file bandit could not parse; pip-audit reached no vulnerability service
or could not look a package up). "Not checked" is never reported as clean.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CLEAN, FINDINGS, NOT_CHECKED = 0, 1, 2
GATING_SEVERITIES = {"MEDIUM", "HIGH"}


def bandit_verdict(report_path: Path) -> tuple[int, list[str]]:
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError) as exc:
        return NOT_CHECKED, [f"bandit: NOT SCANNED: no readable report at {report_path} ({exc})"]
    results = report.get("results", [])
    gating = [r for r in results if r.get("issue_severity", "").upper() in GATING_SEVERITIES]
    lines = [
        f"bandit: {r['issue_severity'].lower()} {r['test_id']} {r['filename']}:{r['line_number']} {r['issue_text']}"
        for r in gating
    ]
    low = len(results) - len(gating)
    if report.get("errors"):
        unparsed = ", ".join(e.get("filename", "?") for e in report["errors"])
        return NOT_CHECKED, [*lines, f"bandit: NOT SCANNED: bandit could not read {unparsed}"]
    if gating:
        return FINDINGS, [*lines, f"bandit: {len(gating)} finding(s) of medium severity or more ({low} low)."]
    return CLEAN, [f"bandit: no finding of medium severity or more ({low} low, listed in {report_path})."]


def pip_audit_verdict(report_path: Path, log_path: Path) -> tuple[int, list[str]]:
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):
        # pip-audit writes no report when it fails (--strict): nothing was audited.
        reason = _last_error(log) or "pip-audit produced no report"
        return NOT_CHECKED, [f"pip-audit: NOT AUDITED: {reason}", "pip-audit: the vulnerability check was not done."]
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    lines = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            lines.append(f"pip-audit: {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixes})")
    if vulnerable:
        lines.append(f"pip-audit: {len(vulnerable)} package(s) with known vulnerabilities.")
        verdict = FINDINGS
    else:
        verdict = CLEAN
    if skipped or not dependencies:
        names = ", ".join(f"{d['name']} ({d['skip_reason']})" for d in skipped) or "no package in the report"
        lines.append(f"pip-audit: NOT AUDITED: {names}")
        # Known vulnerabilities outrank "partly not audited"; both are reported.
        return (FINDINGS if vulnerable else NOT_CHECKED), lines
    if verdict == CLEAN:
        lines.append(f"pip-audit: no known vulnerabilities in the {len(dependencies)} pinned packages.")
    return verdict, lines


def _last_error(log: str) -> str:
    errors = [line.split(":", 2)[-1].strip() for line in log.splitlines() if line.startswith("ERROR")]
    if errors:
        return errors[-1]
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "bandit":
        verdict, lines = bandit_verdict(Path(argv[1]))
    elif len(argv) >= 3 and argv[0] == "pip-audit":
        verdict, lines = pip_audit_verdict(Path(argv[1]), Path(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 64
    print("\n".join(lines))
    return verdict


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
