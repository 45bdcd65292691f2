"""The serving stage's SQL on a local Spark: the Athena views and saved queries over the local gold.

The serving stack deploys ``lib/serving/sql/views/<name>.sql`` as Athena views of the gold
database (their columns declared beside them in ``<name>.json``) and
``lib/serving/sql/queries/<name>.sql`` as the workgroup's saved queries. Both are written in
Athena's dialect (Trino) with unqualified table names, which Athena resolves in the gold
database. Here each file is parsed as Trino SQL with sqlglot, its gold tables are qualified with
the local Iceberg catalog and database, and it is transpiled to Spark SQL: the views become
temporary views of the session under their own names, so that a saved query reads a view as it
does in Athena. ``npm run pipeline:local`` prints their answers; the tests assert them.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from local.spark import ICEBERG_CATALOG
from undercurrent_glue.schema import GOLD_TABLES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SERVING_SQL = Path(__file__).resolve().parents[2] / "lib" / "serving" / "sql"
#: The views, ``<name>.sql`` with its declaration ``<name>.json``.
VIEWS_DIR = SERVING_SQL / "views"
#: The saved (named) queries of the workgroup, ``<name>.sql``.
QUERIES_DIR = SERVING_SQL / "queries"


@dataclass(frozen=True)
class ServingSql:
    """One SQL file of the serving stage: its name (the file stem), its description (the leading
    ``--`` comment) and its statement (the rest)."""

    name: str
    description: str
    sql: str


def read_sql(path: Path) -> ServingSql:
    """The description and statement of a serving SQL file (the split ``lib/serving/sql-files.ts`` makes)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = 0
    while header < len(lines) and lines[header].startswith("--"):
        header += 1
    description = " ".join(line[2:].strip() for line in lines[:header]).strip()
    sql = "\n".join(lines[header:]).strip().removesuffix(";").strip()
    if not description or not sql:
        raise ValueError(f"{path}: a serving SQL file is a '--' comment describing it, then one statement.")
    return ServingSql(path.stem, description, sql)


def views() -> list[ServingSql]:
    """The views, by name."""
    return [read_sql(p) for p in sorted(VIEWS_DIR.glob("*.sql"))]


def queries() -> list[ServingSql]:
    """The saved queries, by name."""
    return [read_sql(p) for p in sorted(QUERIES_DIR.glob("*.sql"))]


def view_declaration(name: str) -> dict[str, Any]:
    """The declared columns of a view (``views/<name>.json``)."""
    declaration: dict[str, Any] = json.loads((VIEWS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return declaration


def parse(sql: str) -> exp.Query:
    """A statement parsed as Athena's Trino SQL: one query (sqlglot raises on what Trino does not
    parse; anything but a query, such as DDL, is refused here)."""
    tree = sqlglot.parse_one(sql, read="trino")
    if not isinstance(tree, exp.Query):
        raise ValueError(f"Not a query: {sql[:60]!r}")
    return tree


def to_spark_sql(sql: str, database: str, tables: Collection[str] = GOLD_TABLES) -> str:
    """Trino SQL of the serving stage as Spark SQL over the local gold: unqualified names of
    ``tables`` (the gold tables) become ``<iceberg catalog>.<database>.<table>``; other names (the
    views, as temporary views of the session) stay as written."""
    tree = parse(sql)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not table.args.get("db") and table.name in tables and table.name not in ctes:
            table.set("db", exp.to_identifier(database))
            table.set("catalog", exp.to_identifier(ICEBERG_CATALOG))
    return tree.sql(dialect="spark")


def register_views(spark: SparkSession, database: str) -> list[str]:
    """Every view as a temporary view of the session, over the gold tables of ``database``; their names."""
    names = []
    for view in views():
        spark.sql(to_spark_sql(view.sql, database)).createOrReplaceTempView(view.name)
        names.append(view.name)
    return names


def run_query(spark: SparkSession, query: ServingSql, database: str) -> DataFrame:
    """A saved query's answer (the views registered first, :func:`register_views`)."""
    return spark.sql(to_spark_sql(query.sql, database))


def presto_type(spark_type: str) -> str:
    """Athena's (Presto) name of a Spark type as ``simpleString`` prints it: ``int`` is
    ``integer``, ``string`` is ``varchar``; the others are spelled alike."""
    return {"int": "integer", "string": "varchar"}.get(spark_type, spark_type)
