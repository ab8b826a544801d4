"""PDF work in a child process under address-space and CPU-time limits.

Every PDF Corrigo reads — an upload being validated, pages being rendered by a task, a
subject read for the barème — is parsed by `pdf_child.py` in its own process: one process per
document, pages one at a time, results streamed back as they come. The child sets its own
limits before it reads a byte (RLIMIT_AS, RLIMIT_CPU for the file and re-armed per page,
no core, no file writes); this process adds a wall-clock deadline between two results and
kills the child when it passes. The child inherits no environment (no secret to steal) and
its answers are checked before use.

A limit hit, a crash or a refusal becomes `PdfRefused` with a translated message that says
what is wrong and, when known, on which page. Callable from a web request or a Celery task
alike (no fork of the caller: a fresh interpreter, thread-safe to start).
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext_noop

from core.i18n import Text, translatable

from .errors import EngineError

logger = logging.getLogger(__name__)

CHILD = Path(__file__).with_name("pdf_child.py")
PAGE_TREE_MAX_DEPTH = 64  # real files stay under 10 levels; pdfium itself gives up at 1024
PAGE_MAX_SIDE_PT = 14400  # the PDF reference's largest page: 200 inches (5.08 m)
_MAX_HEADER = 256 * 1024
_MAX_PAYLOAD = 32 * 1024 * 1024


class PdfRefused(EngineError):
    """A PDF the sandbox refused or could not finish; `.message` is for the teacher."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code

    @classmethod
    def unreadable(cls, why: str) -> PdfRefused:
        """The child answered something it never should: logged, told as an unreadable file."""
        logger.warning("pdf sandbox: malformed answer from the child (%s)", why)
        return cls(translatable(gettext_noop("Le PDF est illisible ou endommagé.")), code="unreadable")


@dataclass(frozen=True)
class SandboxLimits:
    memory_mb: int
    file_cpu_s: int
    page_cpu_s: int
    wall_s: float
    image_megapixels: int

    @classmethod
    def current(cls) -> SandboxLimits:
        return cls(
            memory_mb=settings.PDF_SANDBOX_MEMORY_MB,
            file_cpu_s=settings.PDF_SANDBOX_FILE_CPU_S,
            page_cpu_s=settings.PDF_SANDBOX_PAGE_CPU_S,
            wall_s=settings.PDF_SANDBOX_WALL_S,
            image_megapixels=settings.PDF_IMAGE_MAX_MEGAPIXELS,
        )


ADVICE = gettext_noop(
    "Réenregistrez-le (« Imprimer » puis « Enregistrer au format PDF ») ou numérisez à nouveau "
    "la copie, puis déposez-le à nouveau."
)


def _advised(problem: Text) -> Text:
    return translatable(gettext_noop("%(problem)s %(advice)s"), problem=problem, advice=translatable(ADVICE))


def _cm(points: float) -> str:
    # Two decimals: a page just over the limit must not read as exactly the limit.
    return number_format(points / 72 * 2.54, 2)


def refusal_message(code: str, details: dict, limits: SandboxLimits) -> Text:
    """The teacher's sentence for a refusal code of the child (or of this module); a Text, so a
    copy's failure stored from it is read in the language of whoever reads it (core.i18n)."""
    page = details.get("page")
    if code == "protected":
        return translatable(
            gettext_noop("Le PDF est protégé (chiffré ou par mot de passe) : déposez une version sans protection.")
        )
    if code == "no_pages":
        return translatable(gettext_noop("Le PDF ne contient aucune page."))
    if code == "too_many_pages":
        values = {"count": details.get("count"), "max": details.get("max")}
        if details.get("more"):
            return translatable(
                gettext_noop("Le PDF a plus de %(count)s pages ; la limite est de %(max)s pages par fichier."), **values
            )
        return translatable(
            gettext_noop("Le PDF a %(count)s pages ; la limite est de %(max)s pages par fichier."), **values
        )
    if code == "range":
        values = {key: details.get(key) for key in ("first", "last", "count")}
        # Worded so that no noun agrees with the count: « (1 pages) » was the first wording.
        return translatable(gettext_noop("Pages %(first)s à %(last)s absentes du PDF, qui en a %(count)s."), **values)
    if code == "count_mismatch":
        message = gettext_noop(
            "Le PDF est endommagé : sa table des pages en annonce %(declared)s mais il en contient %(found)s."
        )
        return _advised(translatable(message, declared=details.get("declared"), found=details.get("found")))
    if code == "tree_too_deep":
        message = gettext_noop("Le PDF est endommagé : l'arborescence de ses pages dépasse %(depth)s niveaux.")
        return _advised(translatable(message, depth=details.get("depth")))
    if code == "tree_cycle":
        return _advised(
            translatable(gettext_noop("Le PDF est endommagé : l'arborescence de ses pages boucle sur elle-même."))
        )
    if code == "page_unreadable":
        message = gettext_noop("La page %(page)s du PDF ne peut pas être lue (elle est endommagée).")
        return _advised(translatable(message, page=page))
    if code == "page_size":
        message = gettext_noop(
            "La page %(page)s du PDF a des dimensions hors norme (%(width)s × %(height)s cm) ; "
            "la limite est de %(max)s cm de côté."
        )
        return _advised(
            translatable(
                message,
                page=page,
                width=_cm(details.get("width", 0)),
                height=_cm(details.get("height", 0)),
                max=number_format(PAGE_MAX_SIDE_PT / 72 * 2.54, 0),
            )
        )
    if code == "time":
        if details.get("whole_file"):
            message = gettext_noop(
                "Le PDF est trop lourd à traiter : il demande plus de %(seconds)s s de calcul au total."
            )
        elif page:
            message = gettext_noop(
                "Le PDF est trop lourd à traiter : sa page %(page)s demande plus de %(seconds)s s de calcul."
            )
        else:
            message = gettext_noop(
                "Le PDF est trop lourd à traiter : sa structure demande plus de %(seconds)s s de calcul."
            )
        return _advised(translatable(message, page=page, seconds=details["seconds"]))
    if code == "image_size":
        message = gettext_noop(
            "La page %(page)s du PDF contient une image de %(width)s × %(height)s pixels ; "
            "la limite est de %(max)s millions de pixels par image."
        )
        values = {key: details.get(key) for key in ("page", "width", "height")}
        return _advised(translatable(message, **values, max=limits.image_megapixels))
    if code == "memory":
        if page:
            message = gettext_noop(
                "Le PDF est trop lourd à traiter : sa page %(page)s demande plus de %(mb)s Mo de mémoire."
            )
        else:
            message = gettext_noop("Le PDF est trop lourd à traiter : il demande plus de %(mb)s Mo de mémoire.")
        return _advised(translatable(message, page=page, mb=limits.memory_mb))
    return translatable(gettext_noop("Le PDF est illisible ou endommagé."))


def _refuse(code: str, details: dict, limits: SandboxLimits) -> PdfRefused:
    return PdfRefused(refusal_message(code, details, limits), code=code)


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    """A pipe Popen was asked for (typeshed types Popen's pipes as optional)."""
    if stream is None:
        raise RuntimeError("the sandbox child was started without its pipe")
    return stream


class _Child:
    """One child process and the frames it sends; always reaped, killed if still running."""

    def __init__(self, request: dict, limits: SandboxLimits):
        self.limits = limits
        self.stderr = bytearray()
        self.timed_out = False
        self.cpu_s = 0.0
        self.maxrss_kb = 0
        self.process = subprocess.Popen(  # noqa: S603 - our own script, no shell, no user input in argv
            # -I: no environment, no user site; -B: no .pyc written (the child may write no file).
            [sys.executable, "-I", "-B", str(CHILD), str(limits.memory_mb * 1024 * 1024), str(limits.file_cpu_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": os.defpath, "LC_ALL": "C.UTF-8"},
            close_fds=True,
            start_new_session=True,
        )
        self.pipe_in, self.pipe_out, self.pipe_err = (
            _pipe(self.process.stdin),
            _pipe(self.process.stdout),
            _pipe(self.process.stderr),
        )
        try:
            self.pipe_in.write(json.dumps(request).encode() + b"\n")
            self.pipe_in.close()
        except BrokenPipeError:
            pass  # the child died at start: reported by frames() from its exit status

    def frames(self) -> Iterator[tuple[dict, bytes]]:
        selector = selectors.DefaultSelector()
        selector.register(self.pipe_out, selectors.EVENT_READ)
        selector.register(self.pipe_err, selectors.EVENT_READ)
        buffer = bytearray()
        deadline = time.monotonic() + self.limits.wall_s
        try:
            while selector.get_map():
                frame = self._frame(buffer)
                if frame is not None:
                    yield frame
                    # The wall clock counts the child's time, not the time the caller spent
                    # storing the page it was given.
                    deadline = time.monotonic() + self.limits.wall_s
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.timed_out = True
                    os.kill(self.process.pid, signal.SIGKILL)
                    return
                for key, _events in selector.select(timeout=remaining):
                    chunk = os.read(key.fd, 1024 * 1024)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    elif key.fileobj is self.pipe_out:
                        buffer += chunk
                    else:
                        self.stderr = (self.stderr + chunk)[-8192:]
            while (frame := self._frame(buffer)) is not None:
                yield frame
        finally:
            selector.close()

    def _frame(self, buffer: bytearray) -> tuple[dict, bytes] | None:
        if len(buffer) < 4:
            return None
        (length,) = struct.unpack(">I", buffer[:4])
        if length > _MAX_HEADER:
            raise ValueError(f"header of {length} bytes")
        if len(buffer) < 4 + length:
            return None
        header = json.loads(buffer[4 : 4 + length])
        size = header.get("size") if isinstance(header, dict) else None
        if not isinstance(size, int) or not 0 <= size <= _MAX_PAYLOAD:
            raise ValueError(f"frame header {str(header)[:200]}")
        if len(buffer) < 4 + length + size:
            return None
        payload = bytes(buffer[4 + length : 4 + length + size])
        del buffer[: 4 + length + size]
        return header, payload

    def close(self, *, kill: bool) -> int:
        """Reaps the child (killed first when its answer is not wanted any more) and keeps its
        CPU time. os.kill/os.wait4 rather than Popen's methods, which may reap it unseen."""
        pid = self.process.pid
        if kill:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + self.limits.wall_s
        while True:
            reaped, status, usage = os.wait4(pid, os.WNOHANG)
            if reaped:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                reaped, status, usage = os.wait4(pid, 0)
                break
            time.sleep(0.01)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_s = usage.ru_utime + usage.ru_stime
        self.maxrss_kb = usage.ru_maxrss
        self.pipe_out.close()
        self.pipe_err.close()
        return self.process.returncode


def sandbox_run(op: str, *, stats: dict | None = None, **request) -> Generator[tuple[dict, bytes], None, None]:
    """Runs `op` of pdf_child.py on request; yields its frames up to and including the last.

    Raises PdfRefused when the child refuses the file, hits a limit, dies or misbehaves.
    Stopping the iteration early kills the child. `stats`, when given, receives the child's
    wall and CPU seconds, its own peak RSS when it could say it (peak_rss_kb), and maxrss_kb
    from wait4, known even for a killed child but never below this process's RSS when it
    was spawned (Linux carries ru_maxrss over execve).
    """
    limits = SandboxLimits.current()
    started = time.monotonic()
    child = _Child({"op": op, "page_cpu": limits.page_cpu_s, **request}, limits)
    page = None
    ended = drained = False
    try:
        for header, payload in child.frames():
            if header.get("end") and stats is not None:
                stats["peak_rss_kb"] = header.get("peak_rss_kb")
            if "error" in header:
                raise _refuse(str(header["error"]), header, limits)
            page = header.get("step", page)
            yield header, payload
            if header.get("end"):
                ended = True
                return
        drained = True
    except (ValueError, TypeError) as error:
        raise PdfRefused.unreadable(str(error)) from error
    finally:
        # Killed unless it said its last word or closed its output by itself (a crash, to be
        # told from its exit status rather than from our own SIGKILL).
        returncode = child.close(kill=not (ended or drained))
        if stats is not None:
            stats.update(wall_s=time.monotonic() - started, cpu_s=child.cpu_s, maxrss_kb=child.maxrss_kb)
    raise _death(child, returncode, page, limits)


def _death(child: _Child, returncode: int, page: int | None, limits: SandboxLimits) -> PdfRefused:
    """Why a child ended without its last frame: time, memory, or a crash on a broken file."""
    tail = child.stderr.decode(errors="replace")[-2000:]
    if child.timed_out:
        logger.info("pdf sandbox: no answer within %s s (page %s, %.1f s CPU)", limits.wall_s, page, child.cpu_s)
        return _refuse("time", {"page": page, "seconds": f"{limits.wall_s:g}"}, limits)
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        whole_file = child.cpu_s >= limits.file_cpu_s - 1
        logger.info("pdf sandbox: CPU limit (page %s, %.1f s CPU, exit %s)", page, child.cpu_s, returncode)
        seconds = limits.file_cpu_s if whole_file else limits.page_cpu_s
        return _refuse("time", {"page": page, "seconds": seconds, "whole_file": whole_file}, limits)
    if "MemoryError" in tail or returncode in (-signal.SIGABRT, -signal.SIGTRAP):
        # pdfium aborts when an allocation fails under RLIMIT_AS; Python raises MemoryError.
        logger.info("pdf sandbox: out of memory (page %s, exit %s): %s", page, returncode, tail)
        return _refuse("memory", {"page": page}, limits)
    logger.warning("pdf sandbox: child died (page %s, exit %s): %s", page, returncode, tail)
    return _refuse("unreadable", {"page": page}, limits)
