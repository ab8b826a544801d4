"""The scaled deadlines that tests waiting on other processes use (tests/support/deadlines.py)."""

from __future__ import annotations

import pytest

from tests.support import deadlines


@pytest.fixture
def measured(monkeypatch):
    """Makes measure() return the given factors in turn; restores the session's factor after."""
    session_factor = deadlines.factor()
    values: list[float] = []
    monkeypatch.setattr(deadlines, "measure", lambda: values.pop(0))
    yield values
    monkeypatch.setattr(deadlines, "_factor", session_factor)


def test_a_base_timeout_is_multiplied_by_the_measured_factor(measured):
    measured.append(4.0)
    deadlines.calibrate()
    assert deadlines.scaled(15) == 60.0
    assert deadlines.scaled_ms(15) == 60_000.0


def test_the_factor_is_never_under_one_nor_over_the_cap(monkeypatch):
    monkeypatch.setattr(deadlines, "REFERENCE_SECONDS", 1e9)
    assert deadlines.measure() == 1.0
    monkeypatch.setattr(deadlines, "REFERENCE_SECONDS", 1e-9)
    assert deadlines.measure() == deadlines.MAX_FACTOR


def test_a_deadline_that_runs_out_on_a_machine_grown_slower_moves_once_measured_again(measured):
    measured.append(1.0)
    deadlines.calibrate()
    deadline = deadlines.Deadline(0.0)  # runs out at once at factor 1
    deadline.base = 3600.0  # as if it had been an hour at factor 1
    measured.append(2.0)  # the machine is now twice as slow: the deadline moves to 2 hours
    assert not deadline.expired()
    assert deadline.remaining() > 3600


def test_a_deadline_that_runs_out_on_a_machine_as_fast_as_before_is_expired(measured):
    measured.append(2.0)
    deadlines.calibrate()
    deadline = deadlines.Deadline(0.0)
    measured.append(2.0)
    assert deadline.expired()
    measured.append(1.0)  # faster now: never shortened, still expired
    assert deadline.expired()


def test_wait_until_names_what_it_waited_for(measured):
    measured.extend([1.0, 1.0])
    deadlines.calibrate()
    with pytest.raises(AssertionError, match="waiting for the thing"):
        deadlines.wait_until(lambda: False, base=0.05, what="the thing", interval=0.01)
