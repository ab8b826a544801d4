"""Index operations for tables that grow large (the ledger, the copies), which never block
their writers on PostgreSQL.

A plain CREATE INDEX holds a lock that blocks every INSERT, UPDATE and DELETE on its table
while it builds: minutes on the ledger at 10× (≈ 5 M rows a month), with every copy's calls
waiting to be recorded. On PostgreSQL these build and drop with CONCURRENTLY (Django's
AddIndexConcurrently / RemoveIndexConcurrently: the migration must say `atomic = False`);
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

from django.contrib.postgres.operations import AddIndexConcurrently, NotInTransactionMixin, RemoveIndexConcurrently
from django.db.migrations.operations import AddIndex, AlterField, RemoveIndex


def _postgresql(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


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


class AddIndexOnline(AddIndexConcurrently):
    """AddIndex, built CONCURRENTLY on PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgresql(schema_editor):
            return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
        self._ensure_not_in_transaction(schema_editor)
        valid = _index_valid(schema_editor, self.index.name)
        if valid:
            return None
        model = to_state.apps.get_model(app_label, self.model_name)
        if valid is False and self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)
        return super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgresql(schema_editor):
            return AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
        return super().database_backwards(app_label, schema_editor, from_state, to_state)


class RemoveIndexOnline(RemoveIndexConcurrently):
    """RemoveIndex, dropped CONCURRENTLY on PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgresql(schema_editor):
            return RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
        return super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgresql(schema_editor):
            return RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
        return super().database_backwards(app_label, schema_editor, from_state, to_state)


class ForeignKeyIndexDropOnline(NotInTransactionMixin, AlterField):
    """AlterField of a foreign key from db_index=True to db_index=False and nothing else; on
    PostgreSQL its plain index (the one Django made for db_index) is dropped CONCURRENTLY and
    the constraint is left alone, and going back builds the index CONCURRENTLY."""

    atomic = False

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
