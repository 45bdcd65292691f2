"""The serving stage's SQL files as SQL, without a Spark session.

Each view (``lib/serving/sql/views/<name>.sql``) and saved query (``queries/<name>.sql``) parses as
Athena's Trino dialect and is one read-only SELECT; each view has a declaration beside it whose
columns and types are those Trino gives the view (the deployed Glue view stores them, and Athena
calls a view whose stored types differ from its query's "stale"); no file reads a gold column
its declaration marks as personal data, so the analysts' Lake Formation grants (gold without
those columns) are enough to query every view. ``test_pipeline_local.py`` runs the same files on
the local gold.
"""

from __future__ import annotations

import pytest
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from local import serving
from undercurrent_glue.schema import GOLD_TABLES, load_gold_declaration, validate_declaration

#: How a gold declaration marks a personal column (``PERSONAL_DATA`` in lib/lake/storage-stack.ts).
PERSONAL_DATA = "Personal data."
DATABASE = "gold"


def trino_type(glue_type):
    """The Trino spelling of a declaration's Glue/Hive type, as sqlglot prints it."""
    return exp.DataType.build(glue_type.replace("string", "varchar"), dialect="trino").sql("trino")


def catalog_schema():
    """The gold tables and their columns' types, for sqlglot (``{database: {table: {column: type}}}``)."""
    tables = {}
    for table in GOLD_TABLES:
        declaration = load_gold_declaration(table)
        columns = declaration["columns"] + declaration.get("partition_keys", [])
        tables[table] = {c["name"]: c["type"].replace("string", "varchar") for c in columns}
    return {DATABASE: tables}


def personal_columns():
    """(table, column) of every gold column its declaration marks as personal data."""
    return {
        (table, c["name"])
        for table in GOLD_TABLES
        for c in load_gold_declaration(table)["columns"]
        if PERSONAL_DATA in c.get("comment", "")
    }


def gold_columns_read(sql):
    """(table, column) of every gold column a statement reads, anywhere in it (CTEs, joins, filters)."""
    tree = qualify(serving.parse(sql), schema=catalog_schema(), db=DATABASE, dialect="trino", validate_qualify_columns=False)
    read = set()
    for scope in traverse_scope(tree):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table) and source.name in GOLD_TABLES:
                read.add((source.name, column.name))
    return read


ALL_SQL = serving.views() + serving.queries()


def test_every_view_has_a_declaration_named_as_its_file_and_nothing_else_in_it():
    sql = sorted(p.stem for p in serving.VIEWS_DIR.glob("*.sql"))
    declared = sorted(p.stem for p in serving.VIEWS_DIR.glob("*.json"))
    assert sql == declared
    for name in sql:
        declaration = serving.view_declaration(name)
        validate_declaration(declaration, "dataset")
        assert declaration["name"] == name
        assert set(declaration) == {"name", "description", "columns"}, name


@pytest.mark.parametrize("item", ALL_SQL, ids=lambda s: s.name)
def test_each_file_is_described_and_is_one_read_only_trino_select(item):
    assert item.description.endswith((".", "?")), item.name
    tree = serving.parse(item.sql)
    assert not list(tree.find_all(exp.Insert, exp.Delete, exp.Update, exp.Merge, exp.Create, exp.Drop)), item.name


def test_a_statement_that_is_not_a_query_is_refused():
    with pytest.raises(ValueError, match="Not a query"):
        serving.parse("DROP TABLE fact_order_line")


@pytest.mark.parametrize("view", serving.views(), ids=lambda s: s.name)
def test_each_views_trino_columns_are_its_declared_names_and_types(view):
    tree = annotate_types(qualify(serving.parse(view.sql), schema=catalog_schema(), db=DATABASE, dialect="trino"),
                          schema=catalog_schema(), dialect="trino")
    declared = serving.view_declaration(view.name)["columns"]
    typed = [(s.alias_or_name, s.type and s.type.sql("trino")) for s in tree.selects]
    assert typed == [(c["name"], trino_type(c["type"])) for c in declared]


@pytest.mark.parametrize("view", serving.views(), ids=lambda s: s.name)
def test_each_decimal_column_of_a_view_is_a_gold_column_or_cast_to_its_declared_type(view):
    # Trino types sum(decimal(12,2)) as decimal(38,2), Spark as decimal(22,2), sqlglot as
    # decimal(12,2): only a cast (or a gold column as it is) gives every engine the declared type.
    tree = serving.parse(view.sql)
    for select, column in zip(tree.selects, serving.view_declaration(view.name)["columns"], strict=True):
        if not column["type"].startswith("decimal"):
            continue
        value = select.unalias()
        if isinstance(value, exp.Column):
            continue
        assert isinstance(value, exp.Cast), (view.name, column["name"])
        assert value.to.sql("trino") == trino_type(column["type"]), (view.name, column["name"])


@pytest.mark.parametrize("item", ALL_SQL, ids=lambda s: s.name)
def test_no_view_or_saved_query_reads_a_personal_column(item):
    read = gold_columns_read(item.sql)
    if item in serving.views():
        assert read, item.name  # a view reads gold
    assert not read & personal_columns(), item.name


def test_the_personal_column_check_sees_a_personal_column_wherever_it_is_read():
    assert ("dim_customer", "phone") in personal_columns()
    sneaky = """
    WITH c AS (SELECT customer_number FROM dim_customer WHERE phone LIKE '+33%')
    SELECT count(*) AS n FROM c
    """
    assert ("dim_customer", "phone") in gold_columns_read(sneaky)
    joined = "SELECT x.city FROM fact_order_line AS f JOIN dim_customer AS x ON x.customer_key = f.customer_key ORDER BY x.postal_code"
    assert ("dim_customer", "postal_code") in gold_columns_read(joined)
