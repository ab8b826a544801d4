"""A scripted LLM provider over real HTTP: OpenAI Chat Completions and Anthropic Messages.

Used by the tests, the benchmark and demo mode (`make run` without a provider). litellm
talks to it exactly as to a real provider, so the gateway is exercised end to end.

- `/v1/chat/completions` (OpenAI-compatible) and `/v1/messages` (Anthropic).
- Tokens are counted deterministically: one token per 4 characters of text (rounded up),
  IMAGE_TOKENS per image, plus a few per message.
- Prompt caching, OpenAI style (automatic): the longest prefix shared with an earlier
  request to the same model, in 128-token blocks, counted only from 1024 tokens, is
  reported as `prompt_tokens_details.cached_tokens`. A request's prefix is taken as cached
  as soon as the request arrives (a real provider writes it after the prefill, a fraction of
  the whole call). Anthropic style: the prefix up to the last `cache_control` breakpoint is
  written (`cache_creation_input_tokens`) the first time, read (`cache_read_input_tokens`)
  afterwards; below 1024 tokens nothing is cached.
- Scripts: `server.script(content=..., fault=..., latency=..., match=..., times=...)` queues
  answers; each request takes the first entry whose `match` (a substring of the request's
  text, or a callable) fits. Faults: "429", "500", "timeout" (no answer before the client
  gives up), "malformed" (content that is not JSON), "truncated" (half of the content and
  finish_reason "length"), "nan" (a JSON answer whose first number is NaN, as Python's json
  writes it); a 429 carries `retry_after` (seconds, "1" unless scripted) as Retry-After.
  `server.fault_plan = f(request) -> fault | None` injects faults into requests
  no script entry took (the chaos run). A 200 answer is `delivered` only if the client's
  connection was still open when it was written and the client read it: a killed worker's call
  is not, nor an answer its socket still held unread when it died (the kernel resets such a
  connection instead of closing it).
  Unscripted requests get the demo answer (`demo_content`): a copy with a text layer is read
  (`demo_answers`: each question's answer found under its « Exercice N » / « Question N », or
  the text shared out in order) and graded against the barème's criteria (the expected numbers
  and words it contains), with feedback that names what was found and what is missing, all
  labelled simulated; a copy without text gets plausible grades from the barème alone. Answers
  depend only on the request (never on the copy's random delimiters): grading the same copy
  again gives the same answer. An appréciation follows the grades in the prompt
  (`demo_appreciation`).

CLI: `python tests/support/llm_server.py --port 8765 --latency 0.5 --demo`.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import html
import json
import random
import re
import select
import socket
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

IMAGE_TOKENS = 765
MESSAGE_OVERHEAD = 4
CACHE_BLOCK = 128
CACHE_MIN = 1024
# Share of questions a model grades a quarter of the points off (the two graders disagree
# on about one copy in four, as two different real models do).
DEMO_SHIFT_SHARE = 0.05
FAULTS = ("400", "429", "500", "timeout", "malformed", "truncated", "nan")


# --- Token counting and caching ---------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _text_units(text: str) -> tuple[str, ...]:
    # Kept for the texts seen lately: every call repeats the instructions and the barème, which
    # stay at the front; a copy's own text is rarely asked again, so few entries (≈ 60 bytes a
    # unit: a long-running demo server keeps at most a few MB of them).
    return tuple(text[i : i + 4] for i in range(0, len(text), 4))


@functools.lru_cache(maxsize=16)
def _image_digest(url: str) -> str:
    # Kept for the request being answered: its units and its stable key both need each of its
    # images' digests (a page's data URL is ≈ 135 KB; a few MB kept at most).
    return hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()


def _image_units(url: str) -> tuple[str, ...]:
    return _image_units_of(_image_digest(url))


@functools.lru_cache(maxsize=512)
def _image_units_of(digest: str) -> tuple[str, ...]:
    # Kept for the images seen lately (the subject's pages in every copy's prompt, a copy's
    # pages in each of its calls): building 765 strings was half this server's CPU per call,
    # which the bench counts beside the workers' on the same cores.
    return tuple(f"\x00img:{digest}:{i}" for i in range(IMAGE_TOKENS))


def _content_units(content: Any) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return list(_text_units(content))
    units: list[str] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            units += _text_units(part.get("text", ""))
        elif kind == "image_url":
            image = part["image_url"]
            units += _image_units(image["url"] if isinstance(image, dict) else image)
        elif kind == "image":  # Anthropic
            source = part.get("source", {})
            units += _image_units(source.get("data", "") or source.get("url", ""))
        elif kind in ("tool_result", "tool_use"):
            units += _text_units(json.dumps(part, sort_keys=True))
    return units


def openai_units(messages: list[dict]) -> list[str]:
    units: list[str] = []
    for message in messages:
        units += [f"\x00role:{message.get('role')}"] * MESSAGE_OVERHEAD
        units += _content_units(message.get("content"))
    return units


def anthropic_units(body: dict) -> tuple[list[str], int]:
    """Units of an Anthropic request and the length of its prefix up to the last breakpoint."""
    units: list[str] = []
    breakpoint_at = 0
    system = body.get("system")
    blocks: list[tuple[str, Any]] = []
    if isinstance(system, str):
        blocks.append(("system", {"type": "text", "text": system}))
    elif isinstance(system, list):
        blocks += [("system", block) for block in system]
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        blocks += [(message.get("role", "user"), block) for block in content or []]
    last_role = None
    for role, block in blocks:
        if role != last_role:
            units += [f"\x00role:{role}"] * MESSAGE_OVERHEAD
            last_role = role
        units += _content_units([block])
        if isinstance(block, dict) and block.get("cache_control"):
            breakpoint_at = len(units)
    return units, breakpoint_at


def count_tokens(messages: list[dict]) -> int:
    return len(openai_units(messages))


class PrefixCache:
    """Which token prefixes each model has seen, by hash at every 128-token boundary."""

    def __init__(self) -> None:
        self._seen: dict[str, set[bytes]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _boundaries(units: list[str], limit: int | None = None) -> list[tuple[int, bytes]]:
        digest = hashlib.sha1(usedforsecurity=False)
        end = len(units) if limit is None else min(limit, len(units))
        marks = []
        # Each unit then "\x01", fed a block at a time (the same bytes as unit by unit, and the
        # same digests, for a hundredth of the calls: the bench counts this server's CPU too).
        for start in range(0, end, CACHE_BLOCK):
            stop = min(start + CACHE_BLOCK, end)
            digest.update("\x01".join(units[start:stop]).encode("utf-8", "surrogatepass") + b"\x01")
            if stop % CACHE_BLOCK == 0:
                marks.append((stop, digest.digest()))
        if limit is not None and end % CACHE_BLOCK:
            marks.append((end, digest.digest()))
        return marks

    def openai_cached(self, model: str, units: list[str]) -> int:
        marks = self._boundaries(units)
        with self._lock:
            seen = self._seen.setdefault(model, set())
            cached = 0
            for length, digest in marks:
                if digest in seen:
                    cached = length
                else:
                    break
            seen.update(digest for _length, digest in marks)
        return cached if cached >= CACHE_MIN else 0

    def anthropic_cache(self, model: str, units: list[str], breakpoint_at: int) -> tuple[int, int]:
        """(read, written) tokens for a request with its last breakpoint at `breakpoint_at`."""
        if breakpoint_at < CACHE_MIN:
            return 0, 0
        marks = self._boundaries(units, limit=breakpoint_at)
        key = marks[-1][1]
        with self._lock:
            seen = self._seen.setdefault(f"anthropic:{model}", set())
            if key in seen:
                return breakpoint_at, 0
            seen.add(key)
        return 0, breakpoint_at


# --- Demo answers -----------------------------------------------------------------------

_BAREME_RE = re.compile(r"<bareme_json>(.*?)</bareme_json>", re.S)
_TASK_RE = re.compile(r"\[TASK:([a-z_]+)\]")
_DISPUTED_RE = re.compile(r"<disputed_json>(.*?)</disputed_json>", re.S)
_PAGES_RE = re.compile(r"<page_count>(\d+)</page_count>")
_GRADES_RE = re.compile(r"<grades_json>(.*?)</grades_json>", re.S)
_CLASS_RE = re.compile(r"<class_json>(.*?)</class_json>", re.S)
# A name in a copy's header, as students write it: "Nom : Léa Abadie" (demo mode reads it).
_NAME_RE = re.compile(r"\b(?:Nom|NOM|Name|Élève)\s*:\s*(\S+(?: \S+)*?)(?=\s{2,}|\s+Classe\b|\s*$)", re.M)
_SPLIT_PAGE_RE = re.compile(r"^Page (\d+)\. Text layer:\n(.*)$", re.M)
_DELIMITER_RE = re.compile(r"copie_eleve_[0-9a-f]+")


def _split_by_names(text: str, pages: int) -> list[dict] | None:
    """Copies starting on the pages whose text layer shows a name, or None without names."""
    starts = []
    for number, line in _SPLIT_PAGE_RE.findall(text):
        found = _NAME_RE.search(line)
        if found:
            starts.append((int(number), found.group(1)))
    if not starts:
        return None
    if starts[0][0] != 1:
        starts.insert(0, (1, "Élève 1"))
    bounds = [first for first, _name in starts[1:]] + [pages + 1]
    return [
        {"student_label": name, "first_page": first, "last_page": end - 1}
        for (first, name), end in zip(starts, bounds, strict=True)
    ]


def stable_key(message: dict) -> str:
    """A digest of a request's last message without the copy's random delimiters: the same copy
    graded again gets the same answer, another copy (other text or pages) another. Its images
    count by their digests (`_image_digest`, which the token count reuses): dumping a message of
    550 KB to JSON and searching it for delimiters was half this server's CPU a request, which
    the bench counts on the workers' cores."""
    digest = hashlib.sha1(str(message.get("role")).encode(), usedforsecurity=False)
    content = message.get("content")
    for part in [content] if isinstance(content, str) else content or []:
        kind = part.get("type") if isinstance(part, dict) else "text"
        if kind == "image_url":
            image = part["image_url"]
            digest.update(b"\x00img:" + _image_digest(image["url"] if isinstance(image, dict) else image).encode())
        elif kind == "image":  # Anthropic
            source = part.get("source", {})
            digest.update(b"\x00img:" + _image_digest(source.get("data", "") or source.get("url", "")).encode())
        else:
            text = part if isinstance(part, str) else part.get("text") or json.dumps(part, sort_keys=True)
            digest.update(b"\x00text:" + _DELIMITER_RE.sub("copie_eleve", text).encode())
    return digest.hexdigest()


def request_text(messages: list[dict]) -> str:
    parts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [block.get("text", "") for block in content if isinstance(block, dict)]
    return "\n".join(parts)


NBSP = "\u00a0"
_BEFORE_MARK_RE = re.compile(r" ([:;?!»])")


def french_spaces(text: str) -> str:
    """French typography for the demo's own sentences: a no-break space inside « » and before
    : ; ? ! (a line never starts with the colon). Applied to the templates, never to what the
    copy or the barème says."""
    return _BEFORE_MARK_RE.sub(NBSP + r"\1", text).replace("« ", "«" + NBSP)


# A copy without a text layer: the demo cannot read handwriting.
UNREAD = french_spaces("(lecture simulée : la copie n'a pas de texte que la démonstration puisse lire)")


def _rng(*seed: Any) -> random.Random:
    return random.Random(hashlib.sha1(repr(seed).encode(), usedforsecurity=False).hexdigest())  # noqa: S311


def demo_appreciation(text: str) -> str:
    """A general appréciation that follows the grades in the prompt: its opening from the
    share of the points, its strength and weakness from the questions' shares."""
    grades = json.loads((_GRADES_RE.search(text) or [None, "{}"])[1])
    questions = grades.get("questions") or []
    maximum = float(grades.get("max") or 0)
    share = float(grades.get("total") or 0) / maximum if maximum else 0.0
    if share >= 0.75:
        opening = "Très bon travail d'ensemble."
    elif share >= 0.5:
        opening = "Travail correct dans l'ensemble."
    elif share >= 0.25:
        opening = "Travail inégal."
    else:
        opening = "Travail insuffisant."
    if not questions:
        return opening
    ranked = sorted(questions, key=lambda q: float(q["points"]) / float(q["max"]) if float(q["max"]) else 0.0)
    sentence = french_spaces("{opening} Point fort : {strong}. À retravailler en priorité : {weak}.")
    return sentence.format(opening=opening, strong=ranked[-1]["label"], weak=ranked[0]["label"])


def demo_class_summary(text: str) -> dict:
    """Strengths and difficulties that follow the class's figures in the prompt: the questions
    with the best average share first, then those with the worst."""
    questions = json.loads((_CLASS_RE.search(text) or [None, "{}"])[1]).get("questions") or []

    def share(question: dict) -> float:
        maximum = float(question.get("max") or 0)
        return float(question.get("average") or 0) / maximum if maximum else 0.0

    ranked = sorted(questions, key=share)
    strength = french_spaces("{label} : bien réussi par la plupart de la classe.")
    difficulty = french_spaces("{label} : à retravailler, beaucoup de réponses incomplètes.")
    strengths = [strength.format(label=q["label"]) for q in reversed(ranked[-3:])]
    difficulties = [difficulty.format(label=q["label"]) for q in ranked[:3]]
    return {
        "strengths": strengths or ["Copies rendues complètes."],
        "difficulties": difficulties or ["Rédaction à soigner."],
    }


def demo_placements(questions: int, pages: int) -> list[dict]:
    """Where each answer is read, as a model says it: the questions spread over the pages in
    order, those of one page sharing its height from top to bottom."""
    pages = max(pages, 1)
    on_page = [1 + index * pages // questions for index in range(questions)] if questions else []
    places = []
    for index, page in enumerate(on_page):
        share = 0.84 / on_page.count(page)
        rank = on_page[:index].count(page)
        top = 0.08 + rank * share
        places.append({"page": page, "top": round(top, 3), "bottom": round(top + share - 0.02, 3)})
    return places


def demo_content(text: str, model: str, key: str = "") -> str:
    """A plausible answer to any request the engine sends, derived from its prompt.

    `key` identifies the copy (a hash of the request's last message, images included), so
    copies get different grades while both graders of one copy see the same key.
    """
    task = (_TASK_RE.search(text) or [None, "grade_copy"])[1]
    # Without the copy's random delimiters, as the HTTP handler's key: the same copy, the same answer.
    stable = _DELIMITER_RE.sub("copie_eleve", text[-4000:])
    copy_key = key or hashlib.sha1(stable.encode(), usedforsecurity=False).hexdigest()
    if task == "extract_bareme":
        return json.dumps(
            {
                "questions": [
                    {"label": "Exercice 1 — calcul", "max_points": 4, "criteria": "Résultat exact et étapes."},
                    {"label": "Exercice 2 — problème", "max_points": 6, "criteria": "Raisonnement justifié."},
                    {"label": "Exercice 3 — rédaction", "max_points": 10, "criteria": "Argumentation claire."},
                ]
            }
        )
    if task == "appreciation":
        return json.dumps({"appreciation": demo_appreciation(text)}, ensure_ascii=False)
    if task == "class_summary":
        return json.dumps(demo_class_summary(text), ensure_ascii=False)
    if task == "read_name":
        found = _NAME_RE.search(text)
        return json.dumps({"name": found.group(1) if found else ""}, ensure_ascii=False)
    if task == "split_class":
        pages = int((_PAGES_RE.search(text) or [None, "2"])[1])
        named = _split_by_names(text, pages)
        if named is not None:
            return json.dumps({"copies": named}, ensure_ascii=False)
        per_copy = 2 if pages % 2 == 0 else 1
        copies = [
            {"student_label": f"Élève {n + 1}", "first_page": first, "last_page": min(first + per_copy - 1, pages)}
            for n, first in enumerate(range(1, pages + 1, per_copy))
        ]
        return json.dumps({"copies": copies})
    bareme = json.loads((_BAREME_RE.search(text) or [None, "[]"])[1])
    if task == "verify":
        disputed = json.loads((_DISPUTED_RE.search(text) or [None, "[]"])[1])
        wanted = {item["id"] for item in disputed}
        bareme = [question for question in bareme if question["id"] in wanted]
    english = bool(_ENGLISH_RE.search(text))
    answers = demo_answers(text, bareme)
    if answers is not None:
        questions = [
            demo_grade(question, answer, model=model, copy_key=copy_key, verify=task == "verify", english=english)
            for question, answer in zip(bareme, answers, strict=True)
        ]
        return json.dumps({"questions": questions, "manipulation": {"flag": False, "reason": ""}}, ensure_ascii=False)
    rng = _rng(copy_key)
    pages = int((_PAGES_RE.search(text) or [None, "1"])[1])
    places = demo_placements(len(bareme), pages)
    questions = []
    for question, place in zip(bareme, places, strict=True):
        maximum = float(question["max"])
        share = rng.choice([0.0, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0, 1.0])
        # The second grader sometimes sees it differently, as real models do.
        if _rng(copy_key, model, question["id"]).random() < DEMO_SHIFT_SHARE:
            share = min(1.0, max(0.0, share + _rng(model, copy_key, question["id"]).choice([-0.25, 0, 0.25])))
        if task == "verify":
            share = 0.5
        questions.append(
            {
                "id": question["id"],
                "points": round(maximum * share * 4) / 4,
                "max": maximum,
                "reading": UNREAD,
                "reasoning": "Correction simulée, sans lecture de la copie (copie scannée, sans couche texte).",
                "feedback": rng.choice(
                    ["Bon travail, détaille davantage.", "Revois la méthode.", "Très bien.", "Attention aux unités."]
                ),
                "confidence": round(rng.uniform(0.6, 0.95), 2),
                **place,
            }
        )
    return json.dumps({"questions": questions, "manipulation": {"flag": False, "reason": ""}}, ensure_ascii=False)


# --- Demo mode: reading a copy's text layer ----------------------------------------------

_ENGLISH_RE = re.compile(r'"feedback" in English')
_COPY_PAGE_RE = re.compile(r"^Page (\d+)\.(?: Text layer:| Typed answer \(no image\):)?\n?", re.M)
_MARKER_RE = re.compile(r"^\s*(?:exercice|exo|ex\.?|question|q\.?)\s*(\d+)\b\W*", re.I)
_LABEL_NUMBER_RE = re.compile(r"(?:exercice|exo|ex\.?|question|q\.?)\s*(\d+)", re.I)
_KEY_RE = re.compile(r"\d+(?:[.,]\d+)?(?:\s*/\s*\d+(?:[.,]\d+)?)?|[^\W\d_]+")
# Words of a criterion that say how to grade rather than what to find.
_CRITERIA_STOP = {
    "reponse",
    "reponses",
    "attendue",
    "attendu",
    "attendus",
    "resultat",
    "resultats",
    "calcul",
    "calculs",
    "justifier",
    "justifie",
    "justifiee",
    "justification",
    "methode",
    "question",
    "exercice",
    "points",
    "donner",
    "correct",
    "correcte",
    "exacte",
    "etapes",
    "accepter",
    "toute",
    "chaque",
    "valoriser",
    "expected",
    "answer",
    "result",
    "method",
    "justify",
    "correctly",
    "student",
    "students",
    "l'eleve",
}
DEMO_MIN_WORDS = 12  # less text than this (a name, a code) is not a copy the demo can read


@dataclass(frozen=True)
class DemoAnswer:
    """What a copy says for one question: its lines, and where they are (page, share of height)."""

    text: str
    page: int | None = None
    top: float | None = None
    bottom: float | None = None


def _fold(text: str) -> str:
    """Lower case, no accents, decimal commas as points, no spaces inside a fraction."""
    text = unicodedata.normalize("NFKD", text.lower().replace("\u2212", "-"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"(\d),(\d)", r"\1.\2", text)
    return re.sub(r"(\d)\s*/\s*(\d)", r"\1/\2", text)


def _keys(text: str) -> list[tuple[str, str]]:
    """The criterion's expected numbers and meaningful words: (folded, as written), in order, once."""
    found: dict[str, str] = {}
    for raw in _KEY_RE.findall(text):
        folded = _fold(raw)
        is_number = folded[0].isdigit()
        if (is_number or (len(folded) >= 6 and folded not in _CRITERIA_STOP)) and folded not in found:
            found[folded] = raw.strip()
    return list(found.items())


def _copy_pages(text: str) -> list[tuple[int, list[str]]] | None:
    """The copy's pages as (number, lines), read between its delimiters (unescaped), or None."""
    tag = re.search(r"<(copie_eleve_[0-9a-f]+)>", text)
    if tag is None:
        return None
    opening, closing = f"<{tag.group(1)}>", f"</{tag.group(1)}>"
    start, end = text.rfind(opening), text.rfind(closing)
    if start < 0 or end < start:
        return None
    block = text[start + len(opening) : end]
    cuts = list(_COPY_PAGE_RE.finditer(block))
    pages = []
    for index, cut in enumerate(cuts):
        body = block[cut.end() : cuts[index + 1].start() if index + 1 < len(cuts) else len(block)]
        lines = [html.unescape(line).strip() for line in re.split(r"\r?\n", body)]
        pages.append((int(cut.group(1)), [line for line in lines if line and line != "(empty)"]))
    return pages


def _question_number(question: dict, index: int) -> int:
    found = _LABEL_NUMBER_RE.search(str(question.get("label", "")))
    return int(found.group(1)) if found else index + 1


def _answer(lines: list[tuple[int, int, int, str]]) -> DemoAnswer:
    """One answer from its (page, index on the page, lines on the page, text) lines."""
    text = "\n".join(line for *_where, line in lines).strip()
    if not text:
        return DemoAnswer("")
    page, first, count, _line = lines[0]
    last = max(index for number, index, _count, _line in lines if number == page)
    return DemoAnswer(
        text,
        page=page,
        top=round(0.06 + 0.88 * first / count, 3),
        bottom=round(min(0.06 + 0.88 * (last + 1) / count, 1.0), 3),
    )


def demo_answers(text: str, bareme: list[dict]) -> list[DemoAnswer] | None:
    """Each question's answer as the copy's text layer gives it, in barème order; None when the
    copy has too little text to read (a scan: the demo cannot read handwriting)."""
    pages = _copy_pages(text)
    if not pages or not bareme:
        return None
    lines = [(number, index, len(page), line) for number, page in pages for index, line in enumerate(page)]
    if sum(len(line.split()) for *_where, line in lines) < DEMO_MIN_WORDS:
        return None
    by_number: dict[int, list] = {}
    current = None
    for number, index, count, line in lines:
        marker = _MARKER_RE.match(line)
        if marker:
            current = int(marker.group(1))
            line = line[marker.end() :].strip()
        if current is not None and line:
            by_number.setdefault(current, []).append((number, index, count, line))
    if by_number:
        return [_answer(by_number.get(_question_number(q, i), [])) for i, q in enumerate(bareme)]
    # No « Exercice N »: the text shared out over the questions, in order, after the first line (a name).
    body = lines[1:] or lines
    size = -(-len(body) // len(bareme))
    return [_answer(body[i * size : (i + 1) * size]) for i in range(len(bareme))]


def demo_grade(question: dict, answer: DemoAnswer, *, model: str, copy_key: str, verify: bool, english: bool) -> dict:
    """One question graded from its answer: the share of the criterion's expected numbers
    (counted twice) and words the answer contains; reasoning and feedback say which."""
    maximum = float(question["max"])
    keys = _keys(str(question.get("criteria") or ""))
    folded = _fold(answer.text)
    words = set(_KEY_RE.findall(folded))
    # A number as written; a word by its stem, so « réduit » answers « réduire ».
    found = [raw for key, raw in keys if (key in words if key[0].isdigit() else key[: max(5, len(key) - 3)] in folded)]
    # What is missing, the results first: numbers before words, the last one (the final result) first.
    missing = [raw for key, raw in reversed(keys) if key[0].isdigit() and raw not in found]
    missing += [raw for key, raw in keys if not key[0].isdigit() and raw not in found]
    if not answer.text:
        share = 0.0
    elif keys:
        weight = {raw: 2 if key[0].isdigit() else 1 for key, raw in keys}
        share = sum(weight[raw] for raw in found) / sum(weight.values())
    else:  # nothing to compare with: a middling grade for an answer of some length
        share = 0.5 if len(answer.text.split()) < 8 else 0.75
    reasoning, feedback = _demo_comments(answer, keys, found, missing, share, english)
    # The second grader sometimes sees it differently, as real models do (never at verification).
    if not verify and answer.text and _rng(copy_key, model, question["id"]).random() < DEMO_SHIFT_SHARE:
        share = min(1.0, max(0.0, share + _rng(model, copy_key, question["id"]).choice([-0.25, 0.25])))
    jitter = _rng(copy_key, question["id"]).uniform(-0.03, 0.03)
    if not answer.text or share in (0.0, 1.0):
        confidence = 0.9 + jitter
    else:
        confidence = 0.72 + jitter - (0.15 if len(answer.text.split()) < 4 else 0.0)
    return {
        "id": question["id"],
        "points": round(maximum * share * 4) / 4,
        "max": maximum,
        "reading": answer.text[:600] or ("(no answer)" if english else "(pas de réponse)"),
        "reasoning": reasoning,
        "feedback": feedback,
        "confidence": round(confidence, 2),
        "page": answer.page,
        "top": answer.top,
        "bottom": answer.bottom,
    }


_DEMO_PHRASES = {
    "fr": {
        "tag": "Correction simulée (démo) : ",
        "blank": ("aucune réponse trouvée sur la copie.", "Question non traitée : reprends-la avec la correction."),
        "no_criteria": (
            "le barème ne donne pas de critères à comparer.",
            "Réponse donnée ; compare-la à la correction.",
        ),
        "found": "la réponse contient {found}",
        "none_found": "aucun élément attendu trouvé",
        "missing": " ; il manque {missing}.",
        "complete": " ; tous les éléments attendus y sont.",
        "very_good": "Très bien : réponse complète et juste.",
        "good": "Bonne piste ; il manque encore {missing}.",
        "partial": "En partie juste ; on attendait aussi {missing}.",
        "wrong": "Réponse incorrecte : on attendait {missing}.",
        "simulated": " (simulé)",
        "quote": "« {} »",
    },
    "en": {
        "tag": "Simulated grading (demo): ",
        "blank": ("no answer found on the copy.", "Question not answered: go over it with the correction."),
        "no_criteria": (
            "the barème gives no criteria to compare with.",
            "Answer given; compare it with the correction.",
        ),
        "found": "the answer contains {found}",
        "none_found": "none of the expected elements found",
        "missing": "; missing: {missing}.",
        "complete": "; every expected element is there.",
        "very_good": "Very good: complete and correct answer.",
        "good": "Good start; you still need {missing}.",
        "partial": "Partly right; the correction also expected {missing}.",
        "wrong": "Incorrect answer: the correction expected {missing}.",
        "simulated": " (simulated)",
        "quote": "“{}”",
    },
}
_DEMO_PHRASES["fr"] = {
    name: tuple(map(french_spaces, phrase)) if isinstance(phrase, tuple) else french_spaces(phrase)
    for name, phrase in _DEMO_PHRASES["fr"].items()
}


def _demo_comments(
    answer: DemoAnswer, keys: list, found: list[str], missing: list[str], share: float, english: bool
) -> tuple[str, str]:
    """The reasoning (for the teacher) and the feedback (for the student), labelled simulated."""
    say = _DEMO_PHRASES["en" if english else "fr"]
    quoted = {
        "found": ", ".join(say["quote"].format(item) for item in found[:3]),
        "missing": ", ".join(say["quote"].format(item) for item in missing[:3]),
    }
    if not answer.text or not keys:
        reasoning, feedback = say["blank" if not answer.text else "no_criteria"]
        return say["tag"] + reasoning, feedback + say["simulated"]
    reasoning = (
        say["tag"] + (say["found"] if found else say["none_found"]) + (say["missing"] if missing else say["complete"])
    )
    if share >= 0.9:
        feedback = say["very_good"]
    elif share >= 0.5:
        feedback = say["good"]
    else:
        feedback = say["partial"] if found else say["wrong"]
    return reasoning.format(**quoted), feedback.format(**quoted) + say["simulated"]


# --- Scripts ----------------------------------------------------------------------------


@dataclass
class ScriptEntry:
    content: str | Callable[[str, str], str] | None = None
    fault: str | None = None
    latency: float | None = None
    match: str | Callable[[dict], bool] | None = None
    times: int = 1
    completion_tokens: int | str | None = None  # "max": the request's max_tokens
    retry_after: str | None = "1"  # a 429's Retry-After header (None: none sent)

    def fits(self, request: dict) -> bool:
        if self.match is None:
            return True
        if callable(self.match):
            return bool(self.match(request))
        return self.match in request["text"]


@dataclass
class Recorded:
    path: str
    model: str
    text: str
    body: dict
    usage: dict = field(default_factory=dict)
    fault: str | None = None
    content: str = ""
    started: float = 0.0
    ended: float = 0.0
    delivered: bool = False  # a 200 answer written to a client still connected


class _Listening(ThreadingHTTPServer):
    """socketserver listens with a backlog of 5: a class's first wave opens ~32 connections at
    once, and the SYNs past the backlog were dropped; the client retried a second later (seen in
    `make bench`'s trace as a copy's second call starting ~1 s after its first)."""

    request_queue_size = 128


class LLMServer:
    """Start with `LLMServer(latency=...).start()`; `url` is the OpenAI api_base."""

    def __init__(self, *, latency: float = 0.0, demo: bool = True, timeout_sleep: float = 30.0, port: int = 0):
        self.latency = latency
        self.demo = demo
        self.timeout_sleep = timeout_sleep
        self.cache = PrefixCache()
        self.requests: list[Recorded] = []
        self._script: list[ScriptEntry] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0
        self.fault_plan: Callable[[dict], str | None] | None = None
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> LLMServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _Listening(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting
    def script(
        self,
        content: str | Callable[[str, str], str] | dict | None = None,
        *,
        fault: str | None = None,
        latency: float | None = None,
        match: str | Callable[[dict], bool] | None = None,
        times: int = 1,
        completion_tokens: int | str | None = None,
        retry_after: str | None = "1",
    ) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        if isinstance(content, dict):
            content = json.dumps(content)
        with self._lock:
            self._script.append(
                ScriptEntry(
                    content=content,
                    fault=fault,
                    latency=latency,
                    match=match,
                    times=times,
                    completion_tokens=completion_tokens,
                    retry_after=retry_after,
                )
            )

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.max_in_flight = self.in_flight  # a test's peak is its own
        self.fault_plan = None
        self.cache = PrefixCache()

    def _take(self, request: dict) -> ScriptEntry | None:
        with self._lock:
            for entry in self._script:
                if entry.fits(request):
                    entry.times -= 1
                    if entry.times <= 0:
                        self._script.remove(entry)
                    return entry
        return None

    # -- answering
    def answer(self, path: str, body: dict, *, arrived: float | None = None) -> tuple[int, dict, dict[str, str]]:
        """`arrived`: when the request came in (time.monotonic(), before its body was read): the
        call's `started` and the start of its latency. Reading and parsing the body is the
        provider's own work, inside its latency like the rest (a 550 KB body took 1–26 ms on the
        workers' busy cores, `make bench`'s first wave, which the class's ideal does not know)."""
        anthropic = path.rstrip("/").endswith("/messages")
        model = body.get("model", "")
        if anthropic:
            system = body.get("system")
            text_messages = ([{"content": system}] if system else []) + body.get("messages", [])
        else:
            text_messages = body.get("messages", [])
        text = request_text(text_messages)
        request = {"path": path, "model": model, "text": text, "body": body}
        entry = self._take(request)
        if entry is None and self.fault_plan is not None and (planned := self.fault_plan(request)):
            entry = ScriptEntry(fault=planned)
        started = time.monotonic() if arrived is None else arrived
        record = Recorded(path=path, model=model, text=text, body=body, started=started)
        with self._lock:
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            latency = entry.latency if entry and entry.latency is not None else self.latency
            fault = entry.fault if entry else None
            record.fault = fault
            if fault == "timeout":
                self._stop.wait(self.timeout_sleep)
                return 504, {"error": {"message": "upstream timeout", "type": "timeout"}}, {}
            if fault in ("429", "400", "500"):
                self._stop.wait(latency)
            if fault == "429":
                error = {"message": "Rate limit reached, retry later.", "type": "rate_limit_error"}
                retry_after = entry.retry_after if entry else "1"
                return 429, _error_body(error, anthropic), {"retry-after": retry_after} if retry_after else {}
            if fault == "400":
                error = {"message": "Invalid request: unsupported parameter.", "type": "invalid_request_error"}
                return 400, _error_body(error, anthropic), {}
            if fault == "500":
                error = {"message": "The server had an error processing your request.", "type": "server_error"}
                return 500, _error_body(error, anthropic), {}
            if entry and entry.content is not None:
                content = entry.content(text, model) if callable(entry.content) else entry.content
            else:
                content = demo_content(text, model, stable_key((body.get("messages") or [{}])[-1]))
            finish = "stop"
            if fault == "malformed":
                content = "Voici la correction : {questions: [oups"
            elif fault == "truncated":
                content = content[: max(len(content) // 2, 1)]
                finish = "length"
            elif fault == "nan":
                content = re.sub(r'("points":\s*)-?[0-9.]+', r"\1NaN", content, count=1)
            completion_tokens = (entry.completion_tokens if entry else None) or max(len(content) // 4, 1)
            if completion_tokens == "max":  # the answer billed at the request's cap
                completion_tokens = int(body.get("max_tokens") or 4096)
            if anthropic:
                response = self._anthropic_response(body, model, content, finish, completion_tokens)
            else:
                response = self._openai_response(body, model, content, finish, completion_tokens)
            # A remote provider answers `latency` after the request came, its own work inside it:
            # done before the wait, not after (at a wave's end, 32 answers computed after their wait
            # on the workers' 2 cores came 10-90 ms late, issue 18's bench).
            self._stop.wait(max(0.0, latency - (time.monotonic() - record.started)))
            record.usage = response["usage"]
            record.content = content
            return 200, response, {}
        finally:
            with self._lock:
                self.in_flight -= 1
            record.ended = time.monotonic()

    def _openai_response(self, body: dict, model: str, content: str, finish: str, completion_tokens: int) -> dict:
        units = openai_units(body.get("messages", []))
        cached = self.cache.openai_cached(model, units)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_scripted",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": len(units),
                "completion_tokens": completion_tokens,
                "total_tokens": len(units) + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
        }

    def _anthropic_response(self, body: dict, model: str, content: str, finish: str, completion_tokens: int) -> dict:
        units, breakpoint_at = anthropic_units(body)
        read, written = self.cache.anthropic_cache(model, units, breakpoint_at)
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": content}],
            "stop_reason": "max_tokens" if finish == "length" else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": len(units) - read - written,
                "output_tokens": completion_tokens,
                "cache_creation_input_tokens": written,
                "cache_read_input_tokens": read,
            },
        }


def _error_body(error: dict, anthropic: bool) -> dict:
    if anthropic:
        return {"type": "error", "error": {"type": error["type"], "message": error["message"]}}
    return {"error": {**error, "param": None, "code": None}}


class _Handler(BaseHTTPRequestHandler):
    owner: LLMServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    # The last 200 answer written on this connection, until the client shows it read it.
    _unconfirmed: Recorded | None = None

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ConnectionResetError:
            # The client's end was reset instead of closed: its socket was closed with bytes
            # still unread (Linux answers a FIN with an RST then), so the last answer never
            # reached the program (a worker killed with it in its socket buffer).
            if self._unconfirmed is not None:
                self._unconfirmed.delivered = False
            self.close_connection = True

    def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> bool:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        try:
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
        else:
            self._send(200, {"status": "ok"})

    def do_POST(self) -> None:  # noqa: N802
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, {"error": {"message": "invalid JSON body", "type": "invalid_request_error"}})
            return
        path = self.path.split("?", 1)[0]
        if not (path.endswith("/chat/completions") or path.endswith("/messages")):
            self._send(404, {"error": {"message": f"unknown route {path}", "type": "not_found"}})
            return
        status, payload, headers = self.owner.answer(path, body, arrived=arrived)
        # Marked before the answer is written: the client may read it and look at once.
        with self.owner._lock:
            record = next((r for r in reversed(self.owner.requests) if r.body is body), None)
        if record is not None:
            record.delivered = status == 200 and self._client_connected()
        written = self._send(status, payload, headers)
        if record is not None and record.delivered:
            record.delivered = written
            self._unconfirmed = record if written else None

    def _client_connected(self) -> bool:
        """False once the client closed its end (its process died): nothing is waiting to read."""
        try:
            readable, _w, _x = select.select([self.connection], [], [], 0)
            return not readable or self.connection.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False


def image_data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--demo", action="store_true", help="answer every request with simulated grades")
    args = parser.parse_args()
    server = LLMServer(latency=args.latency, demo=args.demo, port=args.port).start()
    print(f"scripted LLM server on {server.url} (latency {args.latency}s)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
