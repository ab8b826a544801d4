"""A copy told to wait for room after its job stopped it: its hold goes back at once.

The race tests/grading/test_allowance_concurrency.py met under load (two units left HELD at 0
tokens after the job ended): a queued copy's task asks for its first hold while another copy
of the job stops it as "quota reached"; the hold says WAIT (a third copy still holds tokens)
and its unit, created after the job listed the units it settles, was never settled."""

from __future__ import annotations

import pytest

from grading.models import Copy
from grading.services.holds import copy_no_room, copy_unit, job_quota_reached
from grading.services.jobs import _job_create
from tests.factories import allowance_leave, copy_with_pages, exam_with_bareme
from usage.models import Reservation
from usage.services import Hold, unit_key, usage_hold

pytestmark = pytest.mark.django_db


def test_a_copy_stopped_while_it_asked_for_room_settles_its_hold(teacher, llm_server):
    exam = exam_with_bareme(owner=teacher, questions=1)
    first, second = (copy_with_pages(exam, pages=1, label=name) for name in ("Léa", "Hugo"))
    job = _job_create(exam=exam, user=teacher, copies=[first, second], estimate_tokens=1_000)
    allowance_leave(teacher, 0)
    first.refresh_from_db()
    second.refresh_from_db()
    # The first copy is being graded with the job's whole reservation held.
    assert usage_hold(pool_key=job.reservation_key, unit=copy_unit(first), need=1_000) is Hold.GRANTED
    assert first.transition(source=[Copy.Status.QUEUED], target=Copy.Status.GRADING)
    # Another copy found the allowance exhausted: the second one, still queued, stops.
    job_quota_reached(job)
    second.refresh_from_db()
    assert second.status == Copy.Status.QUOTA_REACHED

    # The second copy's task had read it queued: its hold waits for the first copy...
    hold = usage_hold(pool_key=job.reservation_key, unit=copy_unit(second), need=500)
    assert hold is Hold.WAIT
    # ...but it was stopped: nothing to wait for, and its unit is settled now, not left held.
    assert copy_no_room(second, job, hold) == Copy.Status.QUOTA_REACHED
    unit = Reservation.objects.get(key=unit_key(pool_key=job.reservation_key, unit=copy_unit(second)))
    assert unit.state != Reservation.State.HELD
    second.refresh_from_db()
    assert second.status == Copy.Status.QUOTA_REACHED
