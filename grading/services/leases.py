"""Copy leases: which task execution is grading a copy, and until when.

A copy task takes the copy with a lease (owner = the Celery task id, which a retry keeps and
a fresh delivery does not) valid for CORRIGO_COPY_LEASE_S. While the task runs, a keeper
thread of its worker process renews the leases it holds every third of that, whatever the
task is blocked on (a model call, a page read). A worker killed hard (SIGKILL, OOM, power)
renews nothing: its copies' leases lapse and the reconciliation (services.reconcile) gives
them to another worker. A task retried later keeps its lease over the countdown, so nobody
else takes the copy meanwhile; a second delivery of the same copy while the lease is alive
gets nothing (`copy_lease_take` is False) and leaves the copy to its holder: one copy, one
execution at a time, so no call is paid twice.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from ..models import Copy

logger = logging.getLogger(__name__)

IN_FLIGHT = (Copy.Status.GRADING, Copy.Status.VERIFYING)


def lease_length() -> timedelta:
    return timedelta(seconds=settings.CORRIGO_COPY_LEASE_S)


def copy_lease_take(*, copy_id: int, owner: str) -> bool:
    """Takes an in-flight copy whose lease is free, lapsed or already `owner`'s (a retry)."""
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner="") | Q(lease_owner=owner)
    rows = Copy.objects.filter(pk=copy_id, status__in=IN_FLIGHT).filter(free)
    return bool(rows.update(lease_owner=owner, lease_until=now + lease_length()))


def lease_clock() -> float:
    """This process's clock for how old a lease it took is (monotonic seconds)."""
    return time.monotonic()


class LeaseLost(Exception):
    """Another execution took the copy (this one's lease lapsed while it was stalled)."""


class ExecutionLease:
    """One execution's lease on its copy, taken before each round of calls it pays for.

    A lease this execution took (or renewed) less than a third of a lease ago cannot have
    lapsed, and nobody takes a lease that has not: the round goes on without a statement. Older
    (the execution stalled, or its rounds are far apart), it is taken again, which fails when
    another execution has the copy now."""

    def __init__(self, *, copy_id: int, owner: str) -> None:
        self.copy_id, self.owner = copy_id, owner
        self._taken_at: float | None = None

    def taken(self, at: float) -> None:
        """The lease was taken with a lease_until counted from `at` (lease_clock()) or later."""
        self._taken_at = at

    def take(self) -> bool:
        at = lease_clock()
        if not copy_lease_take(copy_id=self.copy_id, owner=self.owner):
            return False
        self.taken(at)
        return True

    def still_ours(self) -> bool:
        fresh = lease_length().total_seconds() / 3
        if self._taken_at is not None and lease_clock() - self._taken_at < fresh:
            return True
        return self.take()


def copy_lease_extend(*, copy_id: int, owner: str, seconds: float) -> None:
    """Keeps `owner`'s lease for `seconds` more than a lease (a retry's countdown)."""
    until = timezone.now() + lease_length() + timedelta(seconds=seconds)
    Copy.objects.filter(pk=copy_id, lease_owner=owner).update(lease_until=until)


class LeaseKeeper:
    """One per process: renews the leases its tasks hold, from a daemon thread.

    The thread runs only while a lease is held and closes its database connection after each
    renewal: an idle worker keeps no connection open, and a connection killed under it (a
    PostgreSQL restart, pg_terminate_backend) costs one renewal, not the lease.
    """

    def __init__(self) -> None:
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, *, copy_id: int, owner: str) -> None:
        with self._lock:
            self._held[owner] = copy_id
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()

    def release(self, *, owner: str) -> None:
        with self._lock:
            self._held.pop(owner, None)
            if not self._held:
                self._wake.set()

    def held(self) -> dict[str, int]:
        with self._lock:
            return dict(self._held)

    def renew(self) -> int:
        """Pushes every held lease one lease length ahead; returns how many rows it renewed."""
        held = self.held()
        if not held:
            return 0
        until = timezone.now() + lease_length()
        renewed = 0
        for owner, copy_id in held.items():
            renewed += Copy.objects.filter(pk=copy_id, lease_owner=owner).update(lease_until=until)
        return renewed

    def _run(self) -> None:
        while True:
            self._wake.wait(settings.CORRIGO_COPY_LEASE_S / 3)
            self._wake.clear()
            with self._lock:
                if not self._held:
                    self._thread = None
                    return
            try:
                self.renew()
            except Exception:  # the next tick tries again; the lease outlives two missed ticks
                logger.warning("lease renewal failed", exc_info=True)
            finally:
                connection.close()


lease_keeper = LeaseKeeper()
