"""A reason stored while one language was active is read in the language active when it is read."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

from django.utils import translation

from core.i18n import text_dump, text_load, translatable
from grading.errors import FilesPurged
from usage.services import QuotaExceeded


def test_a_stored_reason_is_read_in_the_readers_language_nested_parts_included():
    with translation.override("fr"):
        reason = translatable(
            "Fournisseur du modèle indisponible après %(count)s tentatives : %(error)s",
            count=7,
            error=translatable("Le fournisseur du modèle est indisponible (%(error)s).", error="Timeout"),
        )
        stored = text_dump(reason, limit=2000)
        assert reason == (
            "Fournisseur du modèle indisponible après 7 tentatives : "
            "Le fournisseur du modèle est indisponible (Timeout)."
        )
        assert text_load(stored) == reason
        # Read back, a reason is a Text again: stored once more, still as its source.
        assert text_dump(text_load(stored), limit=2000) == stored
    with translation.override("en"):
        assert (
            text_load(stored)
            == "Model provider unavailable after 7 attempts: The model provider is unavailable (Timeout)."
        )


def test_a_date_in_a_reason_is_written_as_the_reader_writes_dates():
    with translation.override("fr"):
        stored = text_dump(FilesPurged(datetime(2026, 12, 2, 12, tzinfo=UTC)).message, limit=2000)
        assert "le 2 décembre 2026 :" in text_load(stored)
    with translation.override("en"):
        assert "deleted on Dec. 2, 2026:" in text_load(stored)


def test_plain_text_and_rows_written_before_stay_as_they_are():
    assert text_dump("The model says: ignore the barème", limit=2000) == "The model says: ignore the barème"
    assert text_load("Allocation de jetons épuisée : relancez la copie après avoir changé d'offre.") == (
        "Allocation de jetons épuisée : relancez la copie après avoir changé d'offre."
    )
    assert text_load("i18n:{not json") == "i18n:{not json"


def test_a_reason_too_long_for_its_column_is_kept_as_its_text_cut():
    with translation.override("en"):
        reason = translatable("Le modèle a refusé la requête (%(error)s) : %(message)s", error="E", message="x" * 3000)
        assert text_dump(reason, limit=100) == str(reason)[:100]


def test_a_reason_raised_through_a_task_retry_keeps_its_source():
    # Celery pickles the exception of a retry: the reason must come back whole, not as French text.
    with translation.override("fr"):
        error = FilesPurged(datetime(2026, 12, 2, 12, tzinfo=UTC))
        copied = pickle.loads(pickle.dumps(error.message))
    with translation.override("en"):
        assert text_load(text_dump(copied, limit=2000)).startswith("The copies' files were deleted")


def test_a_count_in_a_reason_is_grouped_and_agreed_as_the_reader_groups_and_agrees_it():
    with translation.override("fr"):
        refusal = QuotaExceeded(needed=1_250_001, remaining=1_250_000)  # 1 missing
        stored = text_dump(pickle.loads(pickle.dumps(refusal.message)), limit=2000)  # through a retry too
        assert "il manque 1 jeton (il en reste 1\xa0250\xa0000," in refusal.message
    with translation.override("en"):
        assert "1 token is missing (1,250,000 left, this grading needs about 1,250,001)." in text_load(stored)
        assert text_dump(text_load(stored), limit=2000) == stored  # read back, stored again as its source
