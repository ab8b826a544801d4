"""PostgreSQL's plans for the queries the code sends (indexes are checked on what is sent)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_sent(run: Callable[[], object], *, table: str, containing: str = "") -> list[str]:
    """The SELECTs on `table` that `run()` sends (containing `containing`), as PostgreSQL
    received them: their parameters in place."""
    with CaptureQueriesContext(connection) as queries:
        run()
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("SELECT") and f'FROM "{table}"' in query["sql"] and containing in query["sql"]
    ]


def query_plan(sql: str) -> str:
    """EXPLAIN of `sql` with fresh statistics and sequential and bitmap scans off: a test's table
    fits in a few pages, which PostgreSQL would read whole whatever the indexes; with those off
    it shows the index it would choose on a table of millions of rows."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())
