"""Detection-model tasks the workflow pages show for review: barème, class-PDF split, and the
student's name read on the top band of a copy's first page.

The caller passes the detection role's checked configuration and `record(result, repair)`,
which writes each call to the ledger (grading.services.detection).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from pydantic import BaseModel

from .asking import Reply, Request, ask_with_repair, reply_parse
from .config import RoleConfig
from .llm import LLMResult, llm_complete
from .name_band import band_crop
from .prompts import bareme_messages, data_url, name_messages, split_messages
from .render import local_copy, pdf_pages
from .schema import BaremeProposal, NameReading, SplitProposal, parse_model

BAREME_MAX_PAGES = 10
SPLIT_MAX_PAGES = 120
SPLIT_LONG_SIDE = 900  # names and first lines stay legible; 120 pages stay affordable

Record = Callable[[LLMResult, bool], None]


def _ask(config: RoleConfig, messages: list[dict], schema: type[BaseModel], record: Record):
    def run(requests: dict[str, Request], repair: bool) -> dict[str, Reply]:
        replies = {}
        for key, request in requests.items():
            result = llm_complete(config=request.config, messages=request.messages)
            record(result, repair)
            replies[key] = reply_parse(result, partial(parse_model, model=schema))
        return replies

    return ask_with_repair({"detection": Request(config, messages)}, run)["detection"].value


def bareme_extract(
    *,
    name: str,
    language: str,
    config: RoleConfig,
    record: Record,
    pages: Sequence[tuple[str, str]] | None = None,
) -> BaremeProposal:
    """Proposes the barème read from the stored subject / corrigé `name`: its first
    BAREME_MAX_PAGES, (data URL, text layer) each, given when the caller has them already
    rendered at the model's size, else rendered here.

    Raises EngineError (InvalidAnswer, TransientLLMError, PermanentLLMError…) with a readable reason.
    """
    if pages is None:
        with local_copy(name) as path:
            pages = [(data_url(page.jpeg), page.text) for page in pdf_pages(path, last=BAREME_MAX_PAGES)]
    return _ask(config, bareme_messages(list(pages), language=language), BaremeProposal, record)


def split_propose(*, name: str, config: RoleConfig, record: Record) -> SplitProposal:
    """Proposes how the stored whole-class PDF `name` splits into student copies."""
    with local_copy(name) as path:
        pages = [
            (data_url(page.jpeg), page.text)
            for page in pdf_pages(path, last=SPLIT_MAX_PAGES, long_side=SPLIT_LONG_SIDE)
        ]
    proposal = _ask(config, split_messages(pages), SplitProposal, record)
    return proposal.check_pages(len(pages))


def name_read(*, page_jpeg: bytes, text: str, config: RoleConfig, record: Record) -> str:
    """The name written in the top band of a copy's first page ("" when illegible): only the
    band is sent, with the start of the page's text layer."""
    reading = _ask(config, name_messages(data_url(band_crop(page_jpeg)), text), NameReading, record)
    return " ".join(reading.name.split())
