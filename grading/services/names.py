"""Students' names (issue 13): read on each copy by the detection model (the first page's top
band only, one cheap call in the ledger as "detection"), matched to the class list here with
rapidfuzz, and kept away from the grading providers (masked in text and image)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from django.db import transaction
from django.db.models import Q

from rosters.models import Student
from usage.services import QuotaExceeded, usage_reserve, usage_settle

from ..engine.detection import name_read
from ..engine.name_band import band_mask
from ..engine.names import NameMatch, RosterName, name_parts, names_assign, names_mask
from ..engine.prompts import data_url
from ..models import Copy, Exam
from .detection import detection_record
from .estimate import role_ready
from .uploads import SplitRow

logger = logging.getLogger(__name__)

# Tokens of one name-reading call, at most (a band image, a short prompt, a short answer):
# held before the call (under the allowance lock, like a job's estimate) and settled to what
# it spent after; the call is skipped when the allowance cannot hold it, so it never goes over
# however many copies are read at once.
NAME_READ_TOKENS = 2500


def roster_names(*, exam: Exam) -> list[RosterName]:
    if exam.school_class_id is None:
        return []
    rows = Student.objects.filter(school_class_id=exam.school_class_id).values_list("pk", "last_name", "first_name")
    return [RosterName(pk, last, first) for pk, last, first in rows]


def _claimed(*, exam: Exam, copy: Copy) -> set[int]:
    """Students already given to another copy of the exam."""
    others = exam.copies.exclude(pk=copy.pk).filter(student__isnull=False)
    return set(others.values_list("student_id", flat=True))


def copy_name_match(*, copy: Copy, read: str) -> NameMatch | None:
    """Stores the name read on the copy and its match: the student when the match is clear
    (and no other copy has them), else the read name as the copy's label for the teacher to
    confirm. Without a class list, the read name is used as is. A copy the teacher already
    assigned keeps its student."""
    exam = copy.exam
    roster = roster_names(exam=exam)
    match = names_assign([read], roster)[0] if roster and read else None
    student_id = match.student_id if match is not None else None
    if student_id is not None and student_id in _claimed(exam=exam, copy=copy):
        student_id = None
    fields: dict = {"read_name": read[:200], "match_score": match.score if match is not None else None}
    if student_id is not None:
        fields |= {"student_id": student_id, "student_label": Student.objects.get(pk=student_id).display_name[:200]}
    elif read:
        fields["student_label"] = read[:200]
    with transaction.atomic():
        # Only a copy nobody has named yet: the teacher's choice, or an earlier read, stays.
        Copy.objects.filter(pk=copy.pk, student__isnull=True).filter(Q(read_name="") | Q(read_name=read)).update(
            **fields
        )
    return match


def split_rows_match(*, exam: Exam, rows: list[SplitRow]) -> list[SplitRow]:
    """A class PDF's proposed rows with the student each read name clearly names (each
    student proposed once); the others stay for the teacher to pick in the drop-down."""
    roster = roster_names(exam=exam)
    if not roster:
        return rows
    matches = names_assign([row.student_label for row in rows], roster)
    return [replace(row, student_id=match.student_id) for row, match in zip(rows, matches, strict=True)]


def copy_name_read(*, copy: Copy) -> str:
    """The detection model reads the name on the copy's first page (once), then it is matched.
    Returns what happened: "read", "skipped" (already named, no page, no model, no allowance)."""
    exam = copy.exam
    if copy.read_name or copy.student_id is not None:
        return "skipped"
    page = copy.pages.filter(index=1).first()
    if page is None:
        return "skipped"
    config = role_ready("detection")
    key = f"name:{copy.pk}:{uuid.uuid4().hex[:12]}"
    try:
        usage_reserve(user=exam.owner, key=key, tokens=NAME_READ_TOKENS, exam=exam)
    except QuotaExceeded:
        return "skipped"
    outcome = "failed"
    try:
        with page.image.open("rb") as image:
            jpeg = image.read()
        read = name_read(
            page_jpeg=jpeg,
            text=page.text,
            config=config,
            record=detection_record(
                user=exam.owner, exam=exam, label=f"name:{copy.pk}", copy=copy, reservation_key=key
            ),
        )
        outcome = "finished"
    finally:
        usage_settle(key=key, outcome=outcome)
    copy_name_match(copy=copy, read=read)
    return "read"


def copy_pages_for_grading(*, copy: Copy) -> list[tuple[str, str]]:
    """The copy's pages as the grading calls get them: class list names (and the name read)
    masked in the text layer; with the exam's option, page 1's name band blanked once the
    name is read or the student chosen."""
    exam = copy.exam
    names = [f"{s.last_name} {s.first_name}" for s in roster_names(exam=exam)]
    parts = name_parts([*names, copy.read_name])
    blank_band = exam.mask_names and bool(copy.read_name or copy.student_id)
    pages = []
    for page in copy.pages.all():
        with page.image.open("rb") as image:
            jpeg = image.read()
        if blank_band and page.index == 1:
            jpeg = band_mask(jpeg)
        pages.append((data_url(jpeg), names_mask(page.text, parts)))
    return pages
