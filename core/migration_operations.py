"""Index operations for tables that grow large (the ledger, the copies), which never block
their writers on PostgreSQL.

A plain CREATE INDEX holds a lock that blocks every INSERT, UPDATE and DELETE on its table
while it builds: minutes on the ledger at 10× (≈ 5 M rows a month), with every copy's calls
waiting to be recorded. On PostgreSQL these build and drop with CONCURRENTLY, as Django's
AddIndexConcurrently / RemoveIndexConcurrently do (the migration must say `atomic = False`);
elsewhere (SQLite, `make run`'s default) they are the plain operations, which those
PostgreSQL-only ones refuse to be.

A concurrent build that stopped part way (a lost connection, a deploy interrupted) leaves an
invalid index of that name, which a plain retry would trip over ("already exists"): it is
dropped and built again. A valid index already there under that name (built by hand ahead of
the deploy) is kept as it is.

A foreign key that gives up its own index (db_index=False: a composite index leading with its
column serves its lookups) is altered by ForeignKeyIndexDropOnline: AlterField would drop the
constraint and add it back, and ADD CONSTRAINT … FOREIGN KEY reads every row of the table under
a lock that blocks its writers; on PostgreSQL only the index goes, CONCURRENTLY.
"""

from __future__ import annotations

from django.db import NotSupportedError
from django.db.migrations.operations import AddIndex, AlterField, RemoveIndex


def _postgresql(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class _Online:
    """What the operations below share, as Django's AddIndexConcurrently has it (its module is
    PostgreSQL's alone, which the application code keeps out: tests/core/test_code_shape.py)."""

    def _ensure_not_in_transaction(self, schema_editor) -> None:
        if schema_editor.connection.in_atomic_block:
            raise NotSupportedError(
                f"The {type(self).__name__} operation cannot be executed inside a transaction"
                " (set atomic = False on the migration)."
            )


def _index_valid(schema_editor, name: str) -> bool | None:
    """Whether the index `name` is valid in the current schema; None when there is none (or
    when the SQL is only being written out: sqlmigrate shows the build)."""
    if schema_editor.collect_sql:
        return None
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = %s AND pg_catalog.pg_table_is_visible(c.oid)",
            [name],
        )
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


class AddIndexOnline(_Online, AddIndex):
    """AddIndex, built CONCURRENTLY on PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgresql(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        self._ensure_not_in_transaction(schema_editor)
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return None
        valid = _index_valid(schema_editor, self.index.name)
        if valid:
            return None
        if valid is False:
            schema_editor.remove_index(model, self.index, concurrently=True)
        schema_editor.add_index(model, self.index, concurrently=True)
        return None

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgresql(schema_editor):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        self._ensure_not_in_transaction(schema_editor)
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)
        return None


class RemoveIndexOnline(_Online, RemoveIndex):
    """RemoveIndex, dropped CONCURRENTLY on PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgresql(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        self._ensure_not_in_transaction(schema_editor)
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.remove_index(model, index, concurrently=True)
        return None

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgresql(schema_editor):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        self._ensure_not_in_transaction(schema_editor)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.add_index(model, index, concurrently=True)
        return None


class ForeignKeyIndexDropOnline(_Online, AlterField):
    """AlterField of a foreign key from db_index=True to db_index=False and nothing else; on
    PostgreSQL its plain index (the one Django made for db_index) is dropped CONCURRENTLY and
    the constraint is left alone, and going back builds the index CONCURRENTLY."""

    def _fields(self, app_label, from_state, to_state):
        old = from_state.apps.get_model(app_label, self.model_name)._meta.get_field(self.name)
        new = to_state.apps.get_model(app_label, self.model_name)._meta.get_field(self.name)
        return old, new

    @staticmethod
    def _check(indexed, plain) -> None:
        _, _, _, indexed_kwargs = indexed.deconstruct()
        _, _, _, plain_kwargs = plain.deconstruct()
        indexed_kwargs.pop("db_index", None)
        plain_kwargs.pop("db_index", None)
        if not (indexed.db_index and not plain.db_index and indexed_kwargs == plain_kwargs):
            raise ValueError(f"{plain.name}: ForeignKeyIndexDropOnline only drops a foreign key's own index")

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgresql(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        old, new = self._fields(app_label, from_state, to_state)
        self._check(old, new)
        self._ensure_not_in_transaction(schema_editor)
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return None
        for name in _own_indexes(schema_editor, model, old.column):
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")
        return None

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgresql(schema_editor):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        plain, indexed = self._fields(app_label, from_state, to_state)
        self._check(indexed, plain)
        self._ensure_not_in_transaction(schema_editor)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[indexed], concurrently=True))
        return None


def _own_indexes(schema_editor, model, column: str) -> list[str]:
    """The plain indexes on `column` alone that no Meta index names (Django's for db_index)."""
    named = {index.name for index in model._meta.indexes}
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [
        name
        for name, info in constraints.items()
        if info["columns"] == [column]
        and info["index"]
        and not (info["unique"] or info["primary_key"] or info["foreign_key"] or info["check"])
        and name not in named
    ]
