"""A copy its grading process cannot call this round, passed on to a process that can (issue 18).

Celery gives a job's copies to whichever grading process asks first. When a class starts on a
quiet fleet, one process may reserve 9 or 10 copies of a 16-copy class and the other 6 or 7
(`make bench --copies 16`: 6 runs in 7): the first calls 8 copies at once (its call slots,
engine.call_slots), so its last ones wait a whole provider round while the other process has
room, and a disputed copy among them ends the class one more round later (1.6 × the ideal).

Each grading process writes in Redis its room under its Celery node name: how many more copies
it could call at once (the copies its slots serve − the copy tasks it runs), at each copy
task's start and end and every ROOM_EVERY_S from a daemon thread. A copy task that starts
beyond its process's room passes its copy on when no copy waits in the queue (while copies
wait, every process has reserved all it can: none has room) and another process wrote room in
the last ROOM_FRESH_S: it publishes the copy's task again to that process's own queue (Celery's
worker_direct, settings.CELERY_WORKER_DIRECT) and ends without touching the copy. Once only: a
copy passed on is graded where it lands. A retried task (its lease extended over its countdown)
is never passed on, nor one whose process has no bound on its calls. A process told to stop
(SIGTERM: a warm shutdown, its consumer closed) withdraws its room at once, not when its last
copies are done. Redis or the broker out of reach: the copy stays where it is. The
reconciliation reads the own queues of the live processes too (services.reconcile): a copy
passed to a process that died before taking it is in no queue it reads once that process's
room is stale, and it enqueues the copy again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery.utils.nodenames import worker_direct
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from core.redis_client import redis_client, redis_key

from ..engine.call_slots import llm_call_slots
from .broker import broker_copies_waiting

logger = logging.getLogger(__name__)

# A process writes its room this often while idle (and at each copy task's start and end).
ROOM_EVERY_S = 30.0
# A room written longer ago than this is a process gone (killed, its machine lost): ignored, dropped.
ROOM_FRESH_S = 90.0


def rooms_key() -> str:
    return redis_key("grading", "rooms")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _calling() -> int:
    """Copies the process calls at once: two call slots each; 0 when its calls are not bounded."""
    return max(llm_call_slots().slots // 2, 0)


class ProcessRoom:
    """One per process: the copy tasks it runs, and its room as the other processes read it
    (written only by a grading worker: `node` is its Celery node name, set when it is ready)."""

    def __init__(self) -> None:
        self.node: str | None = None
        # Set when a warm shutdown begins: the room is no longer written (close()).
        self.closed = threading.Event()
        self._running = 0
        self._lock = threading.Lock()

    @contextmanager
    def counted(self) -> Iterator[int]:
        """Counts a copy task while it runs; gives how many the process runs, this one included."""
        with self._lock:
            self._running += 1
            running = self._running
        self.write()
        try:
            yield running
        finally:
            with self._lock:
                self._running -= 1
            self.write()

    def room(self) -> int:
        with self._lock:
            return _calling() - self._running

    def write(self) -> None:
        """The process's room, stamped with the time (best effort: grading never waits on it)."""
        if self.node is None or self.closed.is_set() or _calling() <= 0:
            return
        try:
            redis_client().hset(rooms_key(), self.node, f"{self.room()} {time.time():.3f}")
        except RedisError:
            logger.debug("room not written", exc_info=True)

    def close(self) -> None:
        """A warm shutdown begins (worker_shutting_down): the process takes no more copies, so its
        room is no longer written, and it is dropped at once, not when its last copies are done
        (worker_shutdown, forget()): meanwhile a copy passed to it would wait in its own queue
        until the reconciliation found its room stale. Called in the signal handler, where the
        main thread may hold the Redis client's lock: the room is dropped from a thread."""
        self.closed.set()
        if self.node is not None:
            threading.Thread(target=self.forget, name="room-drop").start()

    def forget(self) -> None:
        """The process stops: its room is no longer offered (also what a copy task ending
        between close() and now wrote)."""
        if self.node is None:
            return
        try:
            redis_client().hdel(rooms_key(), self.node)
        except RedisError:
            logger.debug("room not forgotten", exc_info=True)

    @staticmethod
    def _rooms() -> list[tuple[str, int, bool]]:
        """Every room written: (node, room, fresh: written in the last ROOM_FRESH_S)."""
        now = time.time()
        rooms = []
        for field, value in redis_client().hgetall(rooms_key()).items():
            room, _, written = _text(value).partition(" ")
            rooms.append((_text(field), int(room), now - float(written) <= ROOM_FRESH_S))
        return rooms

    def roomiest(self) -> str | None:
        """The node of the other live process with the most room, None when none has any.
        Rooms older than ROOM_FRESH_S are dropped."""
        rooms = self._rooms()
        stale = [node for node, _room, fresh in rooms if not fresh]
        if stale:
            redis_client().hdel(rooms_key(), *stale)
        offered = [(room, node) for node, room, fresh in rooms if fresh and node != self.node and room > 0]
        return max(offered)[1] if offered else None

    def live(self) -> list[str]:
        """The nodes of every process that wrote its room in the last ROOM_FRESH_S (this one's too)."""
        return [node for node, _room, fresh in self._rooms() if fresh]

    def pass_on_target(self, *, running: int) -> str | None:
        """Where a copy task that starts with `running` copy tasks in its process (itself
        included) should pass its copy on: None while the process calls it at once, while a
        copy waits in the queue, or when no other process has room."""
        calling = _calling()
        if calling <= 0 or running <= calling:
            return None
        try:
            return self.roomiest() if broker_copies_waiting() == 0 else None
        except (RedisError, ValueError):
            return None

    def beat(self, *, node: str) -> None:
        """From now on the room is written as `node`'s, also every ROOM_EVERY_S from a daemon
        thread until close(), so that an idle process is offered (once per process: a grading
        worker ready)."""
        with self._lock:
            started, self.node = self.node is not None, node
        if started:
            return

        def run() -> None:
            self.write()
            while not self.closed.wait(ROOM_EVERY_S):
                self.write()

        threading.Thread(target=run, name="room-heartbeat", daemon=True).start()


process_room = ProcessRoom()


def copy_pass_on(task, *, node: str, copy_id: int, job_id: int, attempt: int) -> bool:
    """Publishes the copy's task again to `node`'s own queue, marked passed on; False (the copy
    stays) when the broker refused it."""
    try:
        task.apply_async((copy_id, job_id, attempt), {"passed_on": True}, queue=worker_direct(node))
    except (BrokerError, RedisError):
        logger.warning("copy %s not passed on: the broker refused it", copy_id, exc_info=True)
        return False
    logger.info("copy %s passed on to %s", copy_id, node)
    return True
