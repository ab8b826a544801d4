"""Every place a teacher reads grades, read back and checked against the barème as it is now:
no grade above its question's current maximum, every total the sum of what is shown.

`grades_everywhere(client, exam)` walks the grid, each copy page, the statistics, the CSV,
the XLSX, the JSON export, the API and the annotated PDFs, and returns the grid's
{student: ([points per question or None], total)} once they all agree.
"""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

import pypdfium2 as pdfium
from django.urls import reverse
from openpyxl import load_workbook

from grading.models import Exam

Table = dict[str, tuple[list[Decimal | None], Decimal | None]]


def _fr(text: str) -> Decimal | None:
    return Decimal(text.replace(",", ".")) if text not in ("", None) else None


def _check(table: Table, maxima: list[Decimal], where: str) -> None:
    for student, (cells, total) in table.items():
        for points, maximum in zip(cells, maxima, strict=True):
            assert points is None or Decimal(0) <= points <= maximum, (where, student, points, maximum)
        shown = [p for p in cells if p is not None]
        assert total == (sum(shown, Decimal(0)) if shown else None), (where, student, cells, total)


def _grid(client, exam: Exam) -> tuple[Table, list[Decimal]]:
    review = client.get(reverse("exam_review", args=[exam.pk])).context["review"]
    maxima = [q.max_points for q in review.questions]
    table = {
        row.copy.student_label: ([g.points if g is not None else None for g in row.cells], row.total)
        for row in review.rows
    }
    _check(table, maxima, "grid")
    for stat, maximum in zip(review.stats, [*maxima, sum(maxima, Decimal(0))], strict=True):
        assert stat.maximum == maximum
        assert stat.high is None or stat.high <= maximum, ("stats", stat.label, stat.high, maximum)
    return table, maxima


def _csv(client, exam: Exam, maxima: list[Decimal]) -> Table:
    raw = client.get(reverse("exam_export", args=[exam.pk, "csv"])).content.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(raw), delimiter=";"))
    n = len(maxima)
    assert [_fr(re.search(r"\(/([\d,]+)\)$", h).group(1)) for h in header[1 : n + 1]] == maxima
    table = {row[0]: ([_fr(v) for v in row[1 : n + 1]], _fr(row[n + 1])) for row in rows}
    _check(table, maxima, "csv")
    return table


def _xlsx(client, exam: Exam, maxima: list[Decimal]) -> Table:
    sheet = load_workbook(io.BytesIO(client.get(reverse("exam_export", args=[exam.pk, "xlsx"])).content)).active
    _header, *rows = list(sheet.iter_rows(values_only=True))
    n = len(maxima)

    def number(value) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    table = {row[0]: ([number(v) for v in row[1 : n + 1]], number(row[n + 1])) for row in rows}
    _check(table, maxima, "xlsx")
    return table


def _json(body: dict, maxima: list[Decimal], where: str) -> Table:
    assert [Decimal(q["max_points"]) for q in body["questions"]] == maxima
    ids = [q["id"] for q in body["questions"]]
    table = {}
    for copy in body["copies"]:
        by_question = {g["question"]: g for g in copy["grades"]}
        for grade in copy["grades"]:
            assert Decimal(grade["max_points"]) == maxima[ids.index(grade["question"])], (where, grade)
        cells = [Decimal(by_question[i]["points"]) if i in by_question else None for i in ids]
        table[copy["student"]] = (cells, Decimal(copy["total"]) if copy["total"] is not None else None)
    _check(table, maxima, where)
    return table


def _annotated(client, exam: Exam, table: Table, maxima: list[Decimal]) -> None:
    """Each annotated PDF's summary page, read back as text, says each question's points out of
    its current maximum, and the total."""
    bareme_total = sum(maxima, Decimal(0))
    for copy in exam.copies.all():
        response = client.get(reverse("copy_annotated", args=[copy.pk]))
        assert response["Content-Type"] == "application/pdf"
        summary = pdfium.PdfDocument(response.content)[0].get_textpage().get_text_bounded()
        lines = [line.strip() for line in summary.splitlines()]
        cells, total = table[copy.student_label]
        for n, (points, maximum) in enumerate(zip(cells, maxima, strict=True), start=1):
            row = next(line for line in lines if line.startswith(f"Q{n}. "))
            expected = f"{_fr_text(points)} / {_fr_text(maximum)}" if points is not None else f"— / {_fr_text(maximum)}"
            if points is None:
                assert row.endswith("—"), (copy.student_label, row)
            else:
                assert row.endswith(expected), (copy.student_label, expected, row)
        heading = f"Total : {_fr_text(total) if total is not None else '—'} / {_fr_text(bareme_total)}"
        assert heading in lines, (copy.student_label, heading, lines)


def _fr_text(value: Decimal) -> str:
    return f"{value.normalize():f}".replace(".", ",")


def grades_everywhere(client, exam: Exam) -> Table:
    table, maxima = _grid(client, exam)
    for copy in exam.copies.all():
        context = client.get(reverse("copy_detail", args=[copy.pk])).context
        cells = [item["grade"].points if item["grade"] else None for item in context["items"]]
        assert (cells, context["total"]) == table[copy.student_label], ("copy page", copy.student_label)
    assert _csv(client, exam, maxima) == table
    assert _xlsx(client, exam, maxima) == table
    exported = json.loads(client.get(reverse("exam_export", args=[exam.pk, "json"])).content)
    assert _json(exported, maxima, "json") == table
    assert _json(client.get(reverse("api_exam_grades", args=[exam.pk])).json(), maxima, "api") == table
    listed = next(e for e in client.get(reverse("api_exam_list")).json()["results"] if e["id"] == exam.pk)
    assert Decimal(listed["bareme_total"]) == sum(maxima, Decimal(0))
    assert listed["average"] is None or Decimal(listed["average"]) <= sum(maxima, Decimal(0))
    _annotated(client, exam, table, maxima)
    return table
