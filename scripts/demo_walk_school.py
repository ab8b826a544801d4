"""`make demo-walk-school`: a school in `make run`'s demo mode, in Chromium (billing off, as a
self-hosted school runs it), with screenshots under test-artifacts/demo-walk-school/.

The operator (a superuser) creates the school in the Django admin and names its admin; the
school admin invites a teacher from /schools/; the teacher signs up through the emailed link,
joins, and uploads an exam; the operator sets the school's pool to about two thirds of the
exam's estimate, so the exam page offers « Corriger les N copies possibles » and names the
school's admin; the teacher launches them (one note then says what runs and what waits, never
the estimate's beside it); the operator raises the pool in the admin and the waiting copies
start by themselves (the teacher is emailed « Correction reprise »; some may start earlier, when
the partial job gives back what it did not spend); the school admin sees the teacher's usage.
Same stack as scripts/demo_walk.py (make run on free ports, a fresh database, its own Redis);
it stops at the first step that fails, naming it.

    .venv/bin/python scripts/demo_walk_school.py [--copies 6] [--keep]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import demo_walk  # noqa: E402  (the same stack and steps)
from demo_walk import PY, STUDENTS, Stack, Walk, _step, chromium_launch, page_open, say, wait  # noqa: E402

OUT = ROOT / "test-artifacts" / "demo-walk-school"
OPERATOR = ("operateur@corrigo.example", "Operateur-mot-de-passe-42")
HEAD = ("direction@college-moulin.example", "Direction-mot-de-passe-42")
TEACHER = ("prof.martin@college-moulin.example", "Un-mot-de-passe-solide-42")
SCHOOL = "Collège Jean-Moulin"


def mails(work: Path) -> list[tuple[str, str, str]]:
    """(to, subject, body) of every mail sent so far, decoded (the file backend's log files)."""
    found = []
    for path in sorted((work / "mail").glob("*.log")):
        for chunk in path.read_bytes().split(b"-" * 79):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk.strip(), policy=email.policy.default)
            body = message.get_body(("plain",))
            found.append((str(message["To"]), str(message["Subject"]), body.get_content() if body else ""))
    return found


def mail_find(work: Path, *, to: str, pattern: str) -> str:
    for recipient, subject, body in mails(work):
        found = re.search(pattern, f"{subject}\n{body}") if recipient == to else None
        if found:
            return found.group(0)
    return ""


class SchoolWalk(Walk):
    def signup_as(self, account: tuple[str, str]) -> None:
        address, password = account
        self.goto("/accounts/signup/")
        self.page.fill("input[name=email]", address)
        self.page.fill("input[name=password1]", password)
        if self.page.locator("input[name=password2]").count():
            self.page.fill("input[name=password2]", password)
        with self.page.expect_navigation():
            self.page.locator("main form button[type=submit]").click()
        pattern = r"https?://\S+/accounts/confirm-email/\S+/"
        wait(lambda: mail_find(self.work, to=address, pattern=pattern), seconds=60, what="the confirmation mail")
        self.page.goto(mail_find(self.work, to=address, pattern=pattern))
        if self.page.locator("main form button[type=submit]").count():
            with self.page.expect_navigation():
                self.page.locator("main form button[type=submit]").first.click()
        say(f"signed up and confirmed {address}")

    def operator_login(self, browser) -> None:
        env = {**self.stack.env, "DJANGO_SUPERUSER_EMAIL": OPERATOR[0], "DJANGO_SUPERUSER_PASSWORD": OPERATOR[1]}
        subprocess.run([PY, "manage.py", "createsuperuser", "--noinput"], cwd=ROOT, env=env, check=True)
        context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 900})
        context.set_default_timeout(120_000)
        self.operator = context.new_page()
        self.operator.goto(f"{self.stack.url}/admin/login/")
        self.operator.fill("input[name=username]", OPERATOR[0])
        self.operator.fill("input[name=password]", OPERATOR[1])
        with self.operator.expect_navigation():
            self.operator.locator("input[type=submit], button[type=submit]").first.click()
        say(f"operator {OPERATOR[0]} logged into the admin")

    def operator_shot(self, name: str) -> None:
        path = OUT / f"{len(self.shots) + 1:02d}-{name.replace(' ', '-')}-admin.png"
        self.operator.screenshot(path=str(path), full_page=True)
        self.shots.append(path)

    def school_create(self) -> None:
        page = self.operator
        page.goto(f"{self.stack.url}/admin/accounts/school/add/")
        page.fill("input[name=name]", SCHOOL)
        page.fill("input[name=city]", "Besançon")
        page.fill("input[name=allowance_tokens]", "0")
        head_id = page.evaluate(
            """async (email) => {
                const query = 'app_label=accounts&model_name=school&field_name=admins&term=';
                const r = await fetch('/admin/autocomplete/?' + query + encodeURIComponent(email));
                return (await r.json()).results[0].id;
            }""",
            HEAD[0],
        )
        page.evaluate(
            """(id) => { const s = document.querySelector('select[name=admins]');
                         s.add(new Option('admin', id, true, true)); }""",
            str(head_id),
        )
        with page.expect_navigation():
            page.locator("input[name=_save]").click()
        self.school_url = page.locator("a", has_text=SCHOOL).first.get_attribute("href")
        self.operator_shot("operator created the school")
        say(f"operator created « {SCHOOL} » with {HEAD[0]} as its admin (billing off)")

    def pool_set(self, tokens: int, name: str) -> None:
        page = self.operator
        page.goto(f"{self.stack.url}{self.school_url}")
        page.fill("input[name=allowance_tokens]", str(tokens))
        with page.expect_navigation():
            page.locator("input[name=_save]").click()
        self.operator_shot(name)
        say(f"operator set the school's pool to {tokens:,} tokens in the admin".replace(",", " "))

    def invite(self) -> str:
        self.goto("/schools/")
        self.page.fill("input[name=email]", TEACHER[0])
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Inviter").click()
        self.shot("school admin invited")
        pattern = r"https?://\S+/schools/join/\S+/"
        wait(lambda: mail_find(self.work, to=TEACHER[0], pattern=pattern), seconds=60, what="the invitation mail")
        link = mail_find(self.work, to=TEACHER[0], pattern=pattern)
        say(f"school admin invited {TEACHER[0]}: {link.split('/schools')[0]}/schools/join/…")
        return link

    def join(self, link: str) -> None:
        self.page.goto(link)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=re.compile("Rejoindre")).click()
        self.page.get_by_test_id("usage-school").wait_for()
        self.shot("teacher joined")
        say(f"teacher joined: the bar says « {self.page.get_by_test_id('usage-school').inner_text()} »")

    def estimate_tokens(self) -> int:
        text = self.page.get_by_test_id("estimate-cost").inner_text()
        return int(re.sub(r"\D", "", re.search(r"\(([\d\s  .,]+) jetons", text).group(1)))

    def used_tokens(self) -> int:
        """What the school's pool has paid already (the names read on the class PDF, say)."""
        self.page.reload()
        text = self.page.locator("body").inner_text()
        return int(re.sub(r"\D", "", re.search(r"([\d\s  .,]+) / [\d\s  .,]+ jetons utilisés", text).group(1)))

    def partial_launch(self) -> int:
        self.page.reload()
        button = self.page.get_by_test_id("start")
        label = button.inner_text()
        possible = int(re.search(r"(\d+) copies possibles|la copie possible", label).group(1) or 1)
        note = self.page.get_by_test_id("partial-note").inner_text()
        assert "Contactez l'administrateur de votre établissement" in note, note
        self.shot("partial launch offered")
        say(f"exam page: « {label} », « {note.splitlines()[0][:90]}… »")
        with self.page.expect_navigation():
            button.click()
        note = self.page.get_by_test_id("deferred-note")
        note.wait_for()
        assert self.page.get_by_test_id("partial-note").count() == 0, "the estimate's note beside the waiting one"
        say(f"launched: « {' '.join(note.inner_text().split())[:110]}… »")

        def settled() -> bool:
            # No job running: the partial one ended, and so did any that what it gave back started.
            self.page.reload()
            return self.page.locator("#grading-progress[data-running=false]").count() > 0

        wait(settled, seconds=600, what="the partial job to finish", interval=3)
        self.shot("partial launch done, copies waiting")
        if note.count():
            say(f"job ended: « {' '.join(note.inner_text().split())[:110]}… »")
        else:  # what the job held and did not spend took the rest (services.deferred)
            say("job ended: its unspent reservation started the copies that waited")
        return possible

    def resumed(self, copies: int) -> None:
        def all_done() -> bool:
            self.page.reload()
            return (
                self.page.get_by_test_id("deferred-note").count() == 0
                and self.page.locator(".badge-done").count() >= copies
            )

        wait(all_done, seconds=600, what="the waiting copies to be graded", interval=3)
        self.shot("waiting copies graded")
        pattern = r"L'allocation de [^\n]*"
        wait(lambda: mail_find(self.work, to=TEACHER[0], pattern=pattern), seconds=60, what="the resumed mail")
        say(f"all {copies} copies graded; mailed « {mail_find(self.work, to=TEACHER[0], pattern=pattern)} »")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=6, help="copies to grade (at most 8)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    args = parser.parse_args()
    students = STUDENTS[: max(2, min(args.copies, len(STUDENTS)))]
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    demo_walk.OUT = OUT
    work = Path(tempfile.mkdtemp(prefix="corrigo-walk-school-"))
    say(f"starting make run (demo mode, billing off) in {work}")
    stack = Stack(work)
    say(f"make run is up on {stack.url}")
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = chromium_launch(playwright)
            head = SchoolWalk(stack, page_open(browser), work)
            teacher = SchoolWalk(stack, page_open(browser), work)
            teacher.shots = head.shots  # one numbering for the screenshots
            _step(head, "school admin signs up", lambda: head.signup_as(HEAD))
            _step(head, "operator", lambda: head.operator_login(browser))
            _step(head, "school in the admin", head.school_create)
            link = _step(head, "invite", head.invite)
            _step(teacher, "teacher signs up", lambda: teacher.signup_as(TEACHER))
            _step(teacher, "teacher joins", lambda: teacher.join(link))
            _step(teacher, "class", lambda: teacher.school_class(students))
            _step(teacher, "exam", teacher.exam)
            _step(teacher, "upload", lambda: teacher.upload(students))
            estimate = _step(teacher, "estimate", teacher.estimate_tokens)
            used = _step(teacher, "used", teacher.used_tokens)
            partial_pool = used + estimate * 2 // 3  # about two thirds of the exam: a partial launch
            _step(head, "pool for part of the exam", lambda: head.pool_set(partial_pool, "operator pool for a part"))
            _step(teacher, "partial launch", teacher.partial_launch)
            _step(head, "pool raised", lambda: head.pool_set(5_000_000, "operator raised the pool"))
            _step(teacher, "resumed", lambda: teacher.resumed(len(students)))
            head.goto("/schools/")
            head.shot("school admin sees the usage")
            say(f"school page: « {head.page.get_by_test_id('pool-figures').inner_text().strip()} »")
            browser.close()
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    say(f"done: {len(list(OUT.glob('*.png')))} screenshots in {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
