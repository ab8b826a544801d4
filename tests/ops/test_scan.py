"""`make scan`: the verdicts scripts/scan_report.py draws from bandit's and pip-audit's reports.

bandit runs for real on planted code; pip-audit's reports are written in its JSON format,
since no vulnerability service is reachable from the test machines.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import scan_report  # noqa: E402


def _bandit(target: Path, report: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "bandit", "-c", str(ROOT / "pyproject.toml"), "-r", str(target), "-f", "json", "-o",
         str(report), "-q"],
        check=False,
    )  # fmt: skip


def test_a_medium_bandit_finding_fails_the_scan_and_low_ones_do_not(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "low.py").write_text("import subprocess\n\nsubprocess.run(['ls'])\n")
    _bandit(code, tmp_path / "low.json")
    verdict, lines = scan_report.bandit_verdict(tmp_path / "low.json")
    assert verdict == scan_report.CLEAN
    assert "no finding of medium severity or more (3 low" in lines[-1]

    (code / "medium.py").write_text("import tempfile\n\npath = '/tmp/corrigo-upload'\n")
    _bandit(code, tmp_path / "medium.json")
    verdict, lines = scan_report.bandit_verdict(tmp_path / "medium.json")
    assert verdict == scan_report.FINDINGS
    assert any("B108" in line and "medium.py:3" in line for line in lines)


def test_a_file_bandit_cannot_parse_is_not_reported_as_clean(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "broken.py").write_text("def (:\n")
    _bandit(code, tmp_path / "report.json")
    verdict, lines = scan_report.bandit_verdict(tmp_path / "report.json")
    assert verdict == scan_report.NOT_CHECKED
    assert "NOT SCANNED" in lines[-1]


def _audit(tmp_path: Path, report: dict | None, log: str = "") -> tuple[int, str]:
    report_path, log_path = tmp_path / "pip-audit.json", tmp_path / "pip-audit.log"
    if report is not None:
        report_path.write_text(json.dumps(report))
    log_path.write_text(log)
    verdict, lines = scan_report.pip_audit_verdict(report_path, log_path)
    return verdict, "\n".join(lines)


def test_a_known_vulnerability_fails_the_scan(tmp_path):
    report = {
        "dependencies": [
            {"name": "django", "version": "5.2.0", "vulns": [
                {"id": "PYSEC-2025-1", "fix_versions": ["5.2.1"], "aliases": ["CVE-2025-1"], "description": "x"}]},
            {"name": "celery", "version": "5.7.0", "vulns": []},
        ],
        "fixes": [],
    }  # fmt: skip
    verdict, text = _audit(tmp_path, report)
    assert verdict == scan_report.FINDINGS
    assert "django 5.2.0: PYSEC-2025-1 (fixed in 5.2.1)" in text


def test_an_unreachable_vulnerability_service_says_not_audited_and_never_clean(tmp_path):
    log = (
        "WARNING:pip_audit._cli:--no-deps is supported\n"
        "ERROR:pip_audit._cli:requests.exceptions.ConnectionError: Failed to resolve 'api.osv.dev'\n"
    )
    verdict, text = _audit(tmp_path, None, log)
    assert verdict == scan_report.NOT_CHECKED
    assert "NOT AUDITED: requests.exceptions.ConnectionError: Failed to resolve 'api.osv.dev'" in text
    assert "no known vulnerabilities" not in text.lower()


def test_a_package_that_could_not_be_looked_up_is_not_audited(tmp_path):
    report = {
        "dependencies": [
            {"name": "celery", "version": "5.7.0", "vulns": []},
            {"name": "django", "version": "5.2.19", "skip_reason": "Dependency not found on PyPI"},
        ]
    }
    verdict, text = _audit(tmp_path, report)
    assert verdict == scan_report.NOT_CHECKED
    assert "NOT AUDITED: django (Dependency not found on PyPI)" in text
    assert "no known vulnerabilities" not in text.lower()


def test_a_clean_audit_says_so(tmp_path):
    verdict, text = _audit(tmp_path, {"dependencies": [{"name": "celery", "version": "5.7.0", "vulns": []}]})
    assert verdict == scan_report.CLEAN
    assert "no known vulnerabilities in the 1 pinned packages" in text


def test_scan_sh_reads_bandits_configuration_from_pyproject():
    script = (ROOT / "scripts" / "scan.sh").read_text()
    assert "bandit -c pyproject.toml" in script
    assert "--strict" in script and "requirements/constraints.txt" in script
