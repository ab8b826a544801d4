"""At most so many provider calls of a grading process at once (CORRIGO_LLM_CALL_SLOTS).

A grading process runs more copy threads than copies it lets call (config.workers): a thread
prepares its copy (reads, hold, prompts) and stores its answers outside a slot, so the next
copy's calls go out while the previous copy's bookkeeping runs. A slot is taken just before a
call is submitted and given back as soon as its answer (or error) is back (issue 18).

A round's calls take their slots together, in the order the rounds asked (first come, first
served): a copy whose two graders are asked at once ends when both have answered, and with a
slot taken at a time the waiting copies took one each as slots freed, their second calls
going out up to 0.2 s after their first (`make bench`'s trace). Verification rounds are
served after the grading rounds waiting with them: a copy being graded may still need its
verification afterwards, a verification round is the end of its copy's chain, so the class
ends sooner when the longer chains start first.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading

from django.conf import settings


class CallSlots:
    """`slots` provider calls at once (0 or less: no bound)."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._free = max(slots, 0)
        self._changed = threading.Condition()
        self._line: list[tuple[bool, int, int]] = []  # (last, arrival, wanted): a heap
        self._arrivals = itertools.count()

    def take(self, calls: int = 1, *, last: bool = False) -> int:
        """Waits for min(calls, slots) slots, taken together, and returns how many (all of
        `calls` with no bound): a round larger than the process's slots goes out in parts.
        `last`: a round that ends its copy's chain (verification), served after the others."""
        if self.slots <= 0:
            return calls
        wanted = min(calls, self.slots)
        ticket = (last, next(self._arrivals), wanted)
        with self._changed:
            heapq.heappush(self._line, ticket)
            while self._line[0] != ticket or self._free < wanted:
                self._changed.wait()
            heapq.heappop(self._line)
            self._free -= wanted
            self._changed.notify_all()  # the next in line may be served too
        return wanted

    def give(self, calls: int = 1) -> None:
        if self.slots <= 0:
            return
        with self._changed:
            if self._free + calls > self.slots:
                raise ValueError("CallSlots.give: no slot taken")
            self._free += calls
            self._changed.notify_all()

    def waiting(self) -> int:
        """Rounds waiting for their slots."""
        with self._changed:
            return len(self._line)


_slots: tuple[int, CallSlots] | None = None
_slots_lock = threading.Lock()


def llm_call_slots() -> CallSlots:
    """The process's CallSlots (settings.CORRIGO_LLM_CALL_SLOTS; a forked child gets its own)."""
    global _slots
    with _slots_lock:
        wanted = settings.CORRIGO_LLM_CALL_SLOTS
        if _slots is None or _slots[0] != os.getpid() or _slots[1].slots != wanted:
            _slots = (os.getpid(), CallSlots(wanted))
        return _slots[1]
