"""The operators' evaluation file (manage.py grading_eval): one graded answer a row, read and
checked whole before anything is asked of a model.

Columns `question, reference_answer, student_answer, score, max_score` (any order, other
columns ignored), comma- or semicolon-separated (a French spreadsheet writes semicolons),
UTF-8. Points take a decimal point or a decimal comma. Every refusal names its line; a file
with any refused line is refused whole.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.errors import ApplicationError

COLUMNS = ("question", "reference_answer", "student_answer", "score", "max_score")
MAX_POINTS = Decimal(1000)
MAX_ROWS = 100_000
ERRORS_SHOWN = 10


class EvalFileRefused(ApplicationError):
    """The file cannot be evaluated; `problems` lists each line's reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:ERRORS_SHOWN]
        more = len(problems) - len(shown)
        lines = [_("Fichier refusé, aucun appel n'a été fait :"), *(f"  {problem}" for problem in shown)]
        if more:
            rest = ngettext("… et %(count)s autre problème.", "… et %(count)s autres problèmes.", more)
            lines.append("  " + rest % {"count": more})
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class EvalRow:
    line: int  # where the row starts in the file, counting the header as line 1
    question: str
    reference_answer: str
    student_answer: str
    score: Decimal
    max_score: Decimal


def _points(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ".").replace("\u202f", "").replace(" ", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _row(line: int, values: dict[str, str], problems: list[str]) -> EvalRow | None:
    where = _("ligne %(line)s") % {"line": line}
    found = len(problems)
    if not values["question"].strip():
        problems.append(_("%(where)s : la question est vide.") % {"where": where})
    if not values["reference_answer"].strip():
        problems.append(_("%(where)s : la réponse attendue (reference_answer) est vide.") % {"where": where})
    score, maximum = _points(values["score"]), _points(values["max_score"])
    if maximum is None:
        problems.append(
            _("%(where)s : max_score « %(value)s » n'est pas un nombre.")
            % {"where": where, "value": values["max_score"]}
        )
    elif not 0 < maximum <= MAX_POINTS:
        problems.append(
            _("%(where)s : max_score doit être supérieur à 0 et au plus %(max)s (lu : %(value)s).")
            % {"where": where, "max": MAX_POINTS, "value": values["max_score"]}
        )
    if score is None:
        problems.append(
            _("%(where)s : score « %(value)s » n'est pas un nombre.") % {"where": where, "value": values["score"]}
        )
    elif score < 0 or (maximum is not None and score > maximum):
        problems.append(
            _("%(where)s : score %(score)s hors de 0 à max_score (%(max)s).")
            % {"where": where, "score": values["score"], "max": values["max_score"]}
        )
    if len(problems) > found or score is None or maximum is None:
        return None
    return EvalRow(
        line=line,
        question=values["question"].strip(),
        reference_answer=values["reference_answer"].strip(),
        student_answer=values["student_answer"].strip(),
        score=score,
        max_score=maximum,
    )


def eval_file_read(*, path: Path) -> list[EvalRow]:
    """Every row of the file, or EvalFileRefused naming each refused line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise EvalFileRefused(
            [_("Lecture impossible de %(path)s : %(error)s") % {"path": path, "error": exc.strerror}]
        ) from None
    except UnicodeDecodeError as exc:
        raise EvalFileRefused(
            [
                _("Le fichier n'est pas en UTF-8 (octet %(position)s) : enregistrez-le en UTF-8.")
                % {"position": exc.start}
            ]
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise EvalFileRefused([_("Le fichier est vide.")]) from None
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise EvalFileRefused(
            [
                _("ligne 1 : colonnes manquantes : %(missing)s (attendues : %(expected)s).")
                % {"missing": ", ".join(missing), "expected": ", ".join(COLUMNS)}
            ]
        )
    index = {name: header.index(name) for name in COLUMNS}
    rows: list[EvalRow] = []
    problems: list[str] = []
    try:
        while True:
            line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            if not any(field.strip() for field in fields):
                continue  # a blank line
            if len(fields) != len(header):
                problems.append(
                    _("ligne %(line)s : %(found)s champs au lieu de %(expected)s.")
                    % {"line": line, "found": len(fields), "expected": len(header)}
                )
                continue
            row = _row(line, {name: fields[position] for name, position in index.items()}, problems)
            if row is not None:
                rows.append(row)
            if len(rows) > MAX_ROWS:
                problems.append(_("Plus de %(max)s réponses : découpez le fichier.") % {"max": MAX_ROWS})
                break
    except csv.Error as exc:
        problems.append(_("ligne %(line)s : CSV illisible (%(error)s).") % {"line": reader.line_num, "error": exc})
    if problems:
        raise EvalFileRefused(problems)
    if not rows:
        raise EvalFileRefused([_("Le fichier n'a aucune réponse après sa ligne d'en-tête.")])
    return rows
