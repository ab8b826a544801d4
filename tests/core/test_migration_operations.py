"""The large tables' index migrations, applied for real on PostgreSQL: built and dropped
CONCURRENTLY, the ledger's foreign key left alone, an interrupted build taken up again; and on
SQLite (`make run`), the plain operations (core/migration_operations.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test.utils import CaptureQueriesContext

pytestmark = [pytest.mark.django_db(transaction=True)]

USAGE_INDEXES = ("usage", "0006_covering_pool_indexes")
COPY_INDEX = ("grading", "0024_copy_unsettled_index")


@pytest.fixture
def loader(settings):
    settings.MIGRATION_MODULES = {}  # the tests' tables come from the models: read the migrations
    return MigrationLoader(None, ignore_no_migrations=True)


def _states(loader, node):
    """The migration and the project's state just before it (apply and unapply both start there)."""
    return loader.get_migration(*node), loader.project_state(node, at_end=False)


def _run(step) -> str:
    with CaptureQueriesContext(connection) as queries, connection.schema_editor(atomic=False) as editor:
        step(editor)
    return "\n".join(query["sql"] for query in queries.captured_queries)


def _indexes(table: str) -> dict[str, bool]:
    """The table's indexes: name → valid."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass",
            [table],
        )
        return dict(cursor.fetchall())


def _foreign_keys(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'", [table])
        return {name for (name,) in cursor.fetchall()}


def _invalidate(name: str) -> None:
    """What a CREATE INDEX CONCURRENTLY stopped part way leaves: an index marked invalid."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [name])


def test_the_ledger_indexes_are_built_and_dropped_concurrently_and_its_foreign_key_is_left_alone(loader):
    migration, before = _states(loader, USAGE_INDEXES)
    table = "usage_usagerecord"
    keys = _foreign_keys(table)

    backwards = _run(lambda editor: migration.unapply(before, editor))
    assert {"usage_user_period", "usage_school_period"}.isdisjoint(_indexes(table))
    user_index = [name for name in _indexes(table) if name.startswith("usage_usagerecord_user_id_")]
    assert len(user_index) == 1, _indexes(table)  # the user's own index, back
    forwards = _run(lambda editor: migration.apply(before, editor))

    assert 'CREATE INDEX CONCURRENTLY "usage_user_period"' in forwards
    assert 'CREATE INDEX CONCURRENTLY "usage_school_period"' in forwards
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "usage_usage_user_id_7af0e3_idx"' in forwards
    assert f'DROP INDEX CONCURRENTLY IF EXISTS "{user_index[0]}"' in forwards
    for sql in (forwards, backwards):  # no foreign key dropped, then added and checked again
        assert "DROP CONSTRAINT" not in sql and "ADD CONSTRAINT" not in sql
    assert "CREATE INDEX CONCURRENTLY" in backwards
    indexes = _indexes(table)
    assert indexes["usage_user_period"] and indexes["usage_school_period"]
    assert not [name for name in indexes if name.startswith("usage_usagerecord_user_id_")]
    assert "usage_usage_user_id_7af0e3_idx" not in indexes
    assert _foreign_keys(table) == keys


def test_an_interrupted_build_is_built_again_and_an_index_built_by_hand_is_kept(loader):
    migration, before = _states(loader, COPY_INDEX)
    table = "grading_copy"
    _run(lambda editor: migration.unapply(before, editor))
    assert "copy_unsettled" not in _indexes(table)

    assert 'CREATE INDEX CONCURRENTLY "copy_unsettled"' in _run(lambda editor: migration.apply(before, editor))
    assert _indexes(table)["copy_unsettled"] is True

    _invalidate("copy_unsettled")
    again = _run(lambda editor: migration.apply(before, editor))  # the deploy run again
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "copy_unsettled"' in again
    assert 'CREATE INDEX CONCURRENTLY "copy_unsettled"' in again
    assert _indexes(table)["copy_unsettled"] is True

    # Valid already (built by hand ahead of the deploy): nothing to do.
    assert " INDEX " not in _run(lambda editor: migration.apply(before, editor))
    assert _indexes(table)["copy_unsettled"] is True


def test_in_a_transaction_the_concurrent_operations_refuse_to_run(loader):
    from django.db import NotSupportedError, transaction

    migration, before = _states(loader, COPY_INDEX)
    with (
        pytest.raises(NotSupportedError, match="atomic = False"),
        transaction.atomic(),
        connection.schema_editor(atomic=False) as editor,
    ):
        migration.apply(before, editor)


def test_on_sqlite_the_same_migrations_are_the_plain_operations(loader, tmp_path):
    from django.db.utils import ConnectionHandler

    # A SQLite database of its own (the handler's one alias, as make run's settings name it).
    sqlite = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db")}})
    sqlite = sqlite["default"]
    try:
        for node, model_name in ((USAGE_INDEXES, "usagerecord"), (COPY_INDEX, "copy")):
            migration, before = _states(loader, node)
            model = before.apps.get_model(node[0], model_name)
            with sqlite.schema_editor() as editor:
                editor.create_model(model)  # its table as the migration finds it, indexes included
            with sqlite.schema_editor(atomic=False) as editor:
                migration.apply(before, editor)
            with sqlite.cursor() as cursor:
                indexes = sqlite.introspection.get_constraints(cursor, model._meta.db_table)
            if model_name == "usagerecord":
                assert indexes["usage_user_period"]["columns"] == ["user_id", "created_at"]
                assert indexes["usage_school_period"]["columns"] == ["school_id", "created_at"]
                assert "usage_usage_user_id_7af0e3_idx" not in indexes
                assert not [
                    name for name, index in indexes.items() if index["index"] and index["columns"] == ["user_id"]
                ]
            else:
                assert indexes["copy_unsettled"]["columns"] == ["status", "exam_id"]
    finally:
        sqlite.close()


def test_the_foreign_key_operation_refuses_any_change_but_giving_up_its_index():
    from django.conf import settings
    from django.db import models

    from core.migration_operations import ForeignKeyIndexDropOnline

    def user(on_delete=models.PROTECT, **kwargs):
        field = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=on_delete, **kwargs)
        field.set_attributes_from_name("user")
        return field

    ForeignKeyIndexDropOnline._check(user(), user(db_index=False))  # the one change it makes
    for indexed, plain in (
        (user(db_index=False), user(db_index=False)),  # no index to give up
        (user(), user()),  # the index kept
        (user(db_index=False), user()),  # the other way
        (user(), user(db_index=False, null=True)),  # the column changes too
        (user(), user(db_index=False, on_delete=models.CASCADE)),  # and the constraint
    ):
        with pytest.raises(ValueError, match="only drops a foreign key's own index"):
            ForeignKeyIndexDropOnline._check(indexed, plain)
