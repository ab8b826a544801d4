"""The scripted provider itself: caching arithmetic, the CLI, and demo mode end to end."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from grading import services
from grading.models import Copy, Grade
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.deadlines import scaled, wait_until
from tests.support.llm_server import CACHE_BLOCK, PrefixCache, count_tokens
from tests.support.servers import free_port, wait_for_port

pytestmark = pytest.mark.usefixtures("french")


def _messages(prefix_chars: int, tail: str) -> list[dict]:
    return [{"role": "system", "content": "p" * prefix_chars}, {"role": "user", "content": tail}]


def test_cached_tokens_follow_openais_rules():
    cache = PrefixCache()
    from tests.support.llm_server import openai_units

    first = openai_units(_messages(8000, "copie A"))
    assert cache.openai_cached("m", first) == 0  # nothing seen yet
    second = openai_units(_messages(8000, "copie B, différente"))
    cached = cache.openai_cached("m", second)
    shared = 4 + 2000 + 4  # system overhead + 8000 chars + the user message's overhead
    assert cached == (shared // CACHE_BLOCK) * CACHE_BLOCK and cached % CACHE_BLOCK == 0
    assert cache.openai_cached("other-model", second) == 0  # caches are per model
    # Below 1024 shared tokens nothing is reported as cached.
    small = PrefixCache()
    small.openai_cached("m", openai_units(_messages(3000, "a")))
    assert small.openai_cached("m", openai_units(_messages(3000, "b"))) == 0
    assert count_tokens(_messages(8000, "")) == 2008


def test_the_cli_serves_demo_answers_over_http(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "tests/support/llm_server.py", "--port", str(port), "--demo"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=process)
        bareme = '<bareme_json>[{"id": "q1", "label": "Ex 1", "max": 4}]</bareme_json> [TASK:grade_copy]'
        body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": bareme}]}).encode()
        request = urllib.request.Request(  # noqa: S310
            f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=scaled(10)) as response:  # noqa: S310
            answer = json.loads(response.read())
    finally:
        process.terminate()
        process.wait(timeout=scaled(10))
    grades = json.loads(answer["choices"][0]["message"]["content"])
    assert grades["questions"][0]["id"] == "q1" and 0 <= grades["questions"][0]["points"] <= 4
    assert answer["usage"]["prompt_tokens"] > 0


@pytest.mark.django_db
def test_demo_mode_grades_a_whole_exam_with_simulated_answers(
    llm_server, settings, eager_celery, teacher, django_capture_on_commit_callbacks
):
    settings.CORRIGO_DEMO_MODE = True
    settings.CORRIGO_DEMO_LLM_URL = llm_server.url
    settings.CORRIGO_LLM = {}  # no provider configured at all
    exam = exam_with_bareme(owner=teacher, mode="double", questions=3)
    copies = [copy_with_pages(exam, pages=2) for _ in range(4)]

    with django_capture_on_commit_callbacks(execute=True):
        services.job_start(exam=exam, user=teacher)

    assert {Copy.objects.get(pk=c.pk).status for c in copies} == {Copy.Status.DONE}
    assert Grade.objects.filter(copy__exam=exam).count() == 12
    assert {r.model for r in llm_server.requests} >= {"gpt-4o-mini", "gpt-4.1-mini"}
    for grade in Grade.objects.filter(copy__exam=exam):
        assert 0 <= grade.points <= grade.max_points


def _post(server, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        server.url + "/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (local server)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_nan_fault_answers_json_with_a_nan_number_and_bills_it(llm_server):
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "[TASK:grade_copy] <bareme_json>[]</bareme_json>"}],
    }
    llm_server.script(json.dumps({"questions": [{"id": "q1", "points": 2.5}]}), fault="nan")
    status, answer = _post(llm_server, body)
    assert status == 200
    assert '"points": NaN' in answer["choices"][0]["message"]["content"]
    assert llm_server.requests[0].usage["completion_tokens"] > 0 and llm_server.requests[0].delivered


CLIENT = """
import json, socket, sys, time
body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "ok"}]}).encode()
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
sock.sendall(b"POST /v1/chat/completions HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\n"
             + b"Content-Length: " + str(len(body)).encode() + b"\\r\\n\\r\\n" + body)
if sys.argv[2] == "read":
    answer = b""
    while b'"usage"' not in answer:
        answer += sock.recv(65536)
print("sent", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("reads", [True, False])
def test_an_answer_left_unread_by_a_client_killed_with_it_is_not_delivered(llm_server, reads):
    """A worker SIGKILLed with the answer still in its socket never had it: the kernel resets
    the connection. One that read it, then died, had it (what it did with it is its business)."""
    llm_server.script(json.dumps({"questions": []}))
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(llm_server.port), "read" if reads else "no"], stdout=subprocess.PIPE
    )
    try:
        assert client.stdout.readline() == b"sent\n"
        # Marked delivered as it is written to a client still connected.
        wait_until(lambda: llm_server.requests and llm_server.requests[0].delivered, base=10, what="the answer")
    finally:
        client.kill()
        client.wait()
    if reads:
        time.sleep(0.5)  # a reset would have arrived by now; nothing changes
        assert llm_server.requests[0].delivered
    else:
        wait_until(lambda: not llm_server.requests[0].delivered, base=10, what="the reset seen")


def test_a_calls_latency_runs_from_its_arrival_with_the_body_read_inside_it(llm_server):
    """A remote provider answers `latency` after the request came, its own work inside it: the
    body read and parsed after the headers are counted in the latency, not added to it (the
    bench's ideal is `latency` a call)."""
    llm_server.latency = 0.5
    llm_server.script(json.dumps({"questions": []}))
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "ok"}]}).encode()
    with socket.create_connection(("127.0.0.1", llm_server.port)) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
        )
        time.sleep(0.3)  # the body comes later: the server has the headers and waits for it
        assert not llm_server.requests
        body_sent = time.monotonic()
        sock.sendall(body)
        answer = b""
        while b'"usage"' not in answer:
            answer += sock.recv(65536)
    [record] = llm_server.requests
    assert answer.startswith(b"HTTP/1.1 200")
    assert record.started < body_sent  # from the headers' arrival, not from the body parsed
    assert record.ended - record.started >= 0.5  # never sooner than its latency


def test_a_fault_plan_injects_faults_into_unscripted_requests_only(llm_server):
    llm_server.fault_plan = lambda request: "500" if "panne" in request["text"] else None
    try:
        assert _post(llm_server, {"model": "m", "messages": [{"role": "user", "content": "panne"}]})[0] == 500
        assert _post(llm_server, {"model": "m", "messages": [{"role": "user", "content": "ok"}]})[0] == 200
        llm_server.script("{}", match="panne")
        assert _post(llm_server, {"model": "m", "messages": [{"role": "user", "content": "panne"}]})[0] == 200
    finally:
        llm_server.fault_plan = None
    assert [r.delivered for r in llm_server.requests] == [False, True, True]


def _demo_grades(pages: list[tuple[str, str]], *, language: str = "fr", criteria: str = "x = 5") -> list[dict]:
    """The demo server's answer to the engine's grading prompt for a copy of these pages."""
    from grading.engine.prompts import ExamContext, grading_messages
    from tests.support.llm_server import demo_content, request_text

    questions = tuple({"id": f"q{n}", "label": f"Question {n}", "max": 4.0, "criteria": criteria} for n in (1, 2))
    ctx = ExamContext(1, "Contrôle", "", "", language, "", questions, ())
    return json.loads(demo_content(request_text(grading_messages(ctx, pages)), "openai/gpt-4o-mini"))["questions"]


def test_demo_mode_finds_each_answer_under_its_question_number_on_any_page():
    page_1 = "Nom : Léa Abadie\nQuestion 2 : on pose 2x = 10 donc x = 5, je vérifie : 2 × 5 = 10."
    page_2 = "Question 1 : je ne sais pas, peut-être x = 3 ou bien quelque chose d'autre."
    first, second = _demo_grades([("data:image/jpeg;base64,", page_1), ("data:image/jpeg;base64,", page_2)])

    assert first["reading"].startswith("je ne sais pas") and first["page"] == 2 and first["points"] == 0
    assert second["reading"].startswith("on pose 2x = 10") and second["page"] == 1 and second["points"] == 4
    assert 0 <= second["top"] < second["bottom"] <= 1
    assert "«\u00a05\u00a0»" in first["feedback"] and first["feedback"].endswith("(simulé)")


def test_demo_mode_shares_an_unmarked_text_out_over_the_questions_in_order():
    text = "Léa Abadie\nPremière réponse : le résultat est x = 5 après calcul.\nSeconde : aucune idée ici, désolée."
    first, second = _demo_grades([("", text)])

    assert "x = 5" in first["reading"] and first["points"] == 4
    assert "aucune idée" in second["reading"] and second["points"] == 0


def test_demo_mode_writes_in_the_exams_language():
    text = "Question 1: x = 5 because 2x = 10 so the answer is five.\nQuestion 2: no idea at all, sorry teacher."
    first, second = _demo_grades([("", text)], language="en")

    assert first["feedback"] == "Very good: complete and correct answer. (simulated)"
    assert second["reasoning"].startswith("Simulated grading (demo): none of the expected elements found")


def test_demo_mode_says_when_a_copy_has_no_text_to_read():
    grades = _demo_grades([("data:image/jpeg;base64,", ""), ("data:image/jpeg;base64,", "Léa")])

    assert all(grade["reading"].startswith("(lecture simulée") for grade in grades)
    assert all("sans couche texte" in grade["reasoning"] for grade in grades)


FRENCH_PLAIN_SPACE_RE = re.compile(r" [:;?!»]|« ")  # what French typography writes with U+00A0


def test_demo_mode_writes_french_with_no_break_spaces_and_leaves_the_copy_as_written():
    text = "Léa Abadie\nQuestion 1 : peut-être x = 3 ? je ne sais pas trop, désolée !\nQuestion 2 :"
    first, second = _demo_grades([("", text)])
    unread = _demo_grades([("data:image/jpeg;base64,", "")])[0]

    written = [first["reasoning"], first["feedback"], second["reasoning"], second["feedback"], unread["reading"]]
    assert [line for line in written if FRENCH_PLAIN_SPACE_RE.search(line)] == []
    assert first["reasoning"].startswith(
        "Correction simulée (démo)\u00a0: aucun élément attendu trouvé\u00a0; il manque"
    )
    assert first["feedback"] == "Réponse incorrecte\u00a0: on attendait «\u00a05\u00a0». (simulé)"
    assert second["feedback"] == "Question non traitée\u00a0: reprends-la avec la correction. (simulé)"
    assert unread["reading"].startswith("(lecture simulée\u00a0: la copie")
    # The copy's own words are read as the student wrote them, spaces included.
    assert first["reading"] == "peut-être x = 3 ? je ne sais pas trop, désolée !"


def test_the_stable_key_names_the_copy_whatever_its_random_delimiters():
    """The scripted provider answers the same copy asked again the same way (its demo grades hang
    on this key), though every prompt wraps the copy in new random delimiters; another page
    image or another text is another copy."""
    from grading.engine.prompts import ExamContext, grading_messages
    from tests.support.llm_server import stable_key

    questions = ({"id": "q1", "label": "Question 1", "max": 4.0, "criteria": "x = 5"},)
    ctx = ExamContext(1, "Contrôle", "", "", "fr", "", questions, ())

    def key(pages: list[tuple[str, str]]) -> str:
        return stable_key(grading_messages(ctx, pages)[-1])

    page = ("data:image/jpeg;base64,AAAA", "Question 1 : x = 5")
    first, again = grading_messages(ctx, [page])[-1], grading_messages(ctx, [page])[-1]
    assert json.dumps(first) != json.dumps(again)  # the delimiters differ from one prompt to the next
    assert stable_key(first) == stable_key(again)
    assert key([("data:image/jpeg;base64,AAAB", page[1])]) != key([page])
    assert key([(page[0], "Question 1 : x = 6")]) != key([page])
