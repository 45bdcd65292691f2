"""The SourceToCurated Glue job (jobs/source_raw_to_curated.py) on local Spark: raw layout in,
curated tables, quarantine and metrics out; failures of one table do not stop the others."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import py_compile
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from local.jobs import load_job
from test_curate import MAY_1, MAY_2, NOW, T2, write_raw
from undercurrent_glue import quality
from undercurrent_glue.curate import CurateCounts, SourceCurationError
from undercurrent_glue.metrics import RecordingSink
from undercurrent_glue.schema import SOURCE_TABLES, load_source_declaration

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

JOB_FILE = Path(__file__).resolve().parents[1] / "jobs" / "source_raw_to_curated.py"
MAY_3 = dt.date(2024, 5, 3)


@pytest.fixture(scope="module")
def job():
    return load_job("source_raw_to_curated")


class Lake:
    def __init__(self, root: Path):
        self.root = root
        self.raw = root / "raw" / "source"
        self.raw_path, self.curated_path, self.quarantine_path = (
            f"{root}/raw/source/", f"{root}/curated/", f"{root}/quarantine/")

    def run(self, job, spark, sink=None, tables=None, run_id="cr_1"):
        return job.run(spark, self.raw_path, self.curated_path, self.quarantine_path, run_id, NOW,
                       sink or RecordingSink(), tables)

    def curated(self, spark, table, *columns):
        df = spark.read.parquet(f"{self.curated_path}{table}/")
        return sorted(tuple(r) for r in (df.select(*columns) if columns else df).collect())

    def files(self, table):
        """Names of the data files of a table (curated and quarantine)."""
        zones = (self.root / "curated" / table, self.root / "quarantine" / table)
        return [p.relative_to(self.root).parent.as_posix() for z in zones for p in z.rglob("part-*")]

    def quarantine(self, table):
        """(ingest_date directory, rule, run_id, record) of every quarantined line, read from the files."""
        lines = []
        for path in sorted((self.root / "quarantine" / table).glob("ingest_date=*/*.json.gz")):
            with gzip.open(path, "rt") as handle:
                for line in handle:
                    row = json.loads(line)
                    lines.append((path.parent.name, row["rule"], row["run_id"], row["quarantined_at"], row["record"]))
        return sorted(lines)


def kept_rdds(spark):
    """Ids of the session's persisted or locally checkpointed RDDs."""
    return set(spark.sparkContext._jsc.getPersistentRDDs().keys())


def write_all_tables(spark: SparkSession, lake: Lake) -> None:
    """Every source table, with one bad row of each kind where the table has such a rule."""
    raw = lake.raw
    write_raw(spark, raw, "offices", [{"office_code": "1"}, {"office_code": "2", "territory": " emea "}], MAY_1)
    write_raw(spark, raw, "employees", [{"employee_number": 1002}, {"employee_number": 1056, "office_code": "9"}], MAY_1)
    write_raw(spark, raw, "customers", [{"customer_number": 103}, {"customer_number": 112, "sales_rep_employee_number": 1056},
                                        {"customer_number": 114, "credit_limit": Decimal("-1.00")}], MAY_1, run_id="jr_a")
    write_raw(spark, raw, "customers", [{"customer_number": 103, "customer_name": "Atelier graphique", "updated_at": T2}],
              MAY_2, run_id="jr_b", extracted_at=T2)
    write_raw(spark, raw, "product_lines", [{"product_line": "Classic Cars"}, {"product_line": "Planes"}], MAY_1)
    write_raw(spark, raw, "products", [{"product_code": "S10_1678"}, {"product_code": "S10_1949", "product_line": "Boats"}],
              MAY_1)
    write_raw(spark, raw, "orders", [{"order_number": 10100}, {"order_number": 10101, "customer_number": 112},
                                     {"order_number": 10102, "status": "Lost"}], MAY_1, run_id="jr_a")
    write_raw(spark, raw, "order_lines", [
        {"order_number": 10100, "product_code": "S10_1678"},
        {"order_number": 10100, "product_code": "S10_1949"},           # product quarantined upstream
        {"order_number": 10102, "product_code": "S10_1678"},           # order quarantined upstream
        {"order_number": 10100, "product_code": "S10_1678", "quantity_ordered": 0, "order_line_number": 2},
    ], MAY_1, run_id="jr_a")
    write_raw(spark, raw, "payments", [{"check_number": "A1"}, {"check_number": "A1"}, {"check_number": "B2",
                                       "amount": Decimal("-5.00")}], MAY_1, run_id="jr_a")


@pytest.fixture(scope="module")
def full_run(job, spark, tmp_path_factory):
    """Every table (:func:`write_all_tables`) curated in one run, with when each table's curation
    started and ended and its curated rows were written (monotonic clock), and the session's
    kept RDDs before and after the run."""
    lake = Lake(tmp_path_factory.mktemp("full-run"))
    write_all_tables(spark, lake)
    started, curated, written = {}, {}, {}
    curate_table, write_curated = job.curate.curate_table, job.write_curated

    def timed_curate(raw, declaration, *args):
        started[declaration["name"]] = time.monotonic()
        result = curate_table(raw, declaration, *args)
        curated[declaration["name"]] = time.monotonic()
        return result

    def timed_write(rows, path, count):
        write_curated(rows, path, count)
        written[path.rstrip("/").rsplit("/", 1)[-1]] = time.monotonic()

    sink = RecordingSink()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(job.curate, "curate_table", timed_curate)
        monkeypatch.setattr(job, "write_curated", timed_write)
        kept_before = kept_rdds(spark)
        counts = lake.run(job, spark, sink)
        kept_after = kept_rdds(spark)
    return {"lake": lake, "counts": counts, "sink": sink, "started": started, "curated": curated, "written": written,
            "kept_before": kept_before, "kept_after": kept_after}


def test_the_job_module_compiles(tmp_path):
    py_compile.compile(str(JOB_FILE), cfile=str(tmp_path / "job.pyc"), doraise=True)


def test_job_settings_resolve_optional_tables(job):
    def resolve(argv, names):
        return {n: "v" if n != "tables" else "orders, customers" for n in names}

    args, tables = job.job_settings(["job", "--tables", "orders, customers"], resolve)
    assert tables == ["orders", "customers"] and "tables" in args
    assert job.job_settings(["job"], resolve)[1] == list(SOURCE_TABLES)
    with pytest.raises(ValueError, match="Job argument 'tables' must list source tables"):
        job.parse_tables("orders,clients")


@pytest.mark.parametrize(
    "rows, cores, files",
    [(0, 8, 1), (7, 8, 1), (249_999, 8, 1), (997_826, 2, 2), (997_826, 8, 3), (3_500_000, 2, 4), (10**9, 64, 64)],
)
def test_a_curated_table_gets_a_file_per_core_while_files_keep_a_quarter_million_rows(job, rows, cores, files):
    assert job.curated_file_count(rows, cores) == files


def test_a_full_run_curates_quarantines_accounts_and_is_idempotent(job, spark, full_run):
    lake, counts, sink = full_run["lake"], full_run["counts"], full_run["sink"]

    assert counts == {
        "offices": CurateCounts(2, 2, 0, 0),
        "employees": CurateCounts(2, 1, 1, 0),
        "customers": CurateCounts(4, 2, 1, 1),
        "orders": CurateCounts(3, 2, 1, 0),
        "payments": CurateCounts(3, 1, 1, 1),
        "product_lines": CurateCounts(2, 2, 0, 0),
        "products": CurateCounts(2, 1, 1, 0),
        "order_lines": CurateCounts(4, 1, 3, 0),
    }
    assert list(counts) == ["offices", "employees", "customers", "orders", "payments", "product_lines", "products",
                            "order_lines"]
    assert {k: v for (t, k), v in sink.values.items() if t == "customers"} == {
        "RowsIn": 4, "RowsCurated": 2, "RowsQuarantined": 1, "DuplicatesRemoved": 1, "ColumnsAdded": 0,
        "SchemaDrift": 0, "DataQualityWarnings": 1, "DataQualityFailures": 0,  # sales rep 1056 was quarantined
    }
    assert sink.values[("orders", "DataQualityWarnings")] == 1  # freshness: updated_at 52 h old

    customers = spark.read.parquet(f"{lake.curated_path}customers/")
    assert customers.columns[-2:] == ["_extracted_at", "_run_id"]
    assert lake.curated(spark, "customers", "customer_number", "customer_name", "_run_id") == [
        (103, "Atelier graphique", "cr_1"), (112, "Atelier", "cr_1")]
    assert lake.curated(spark, "offices", "office_code", "territory") == [("1", "EMEA"), ("2", "EMEA")]
    assert lake.curated(spark, "order_lines", "order_number", "product_code", "quantity_ordered") == [
        (10100, "S10_1678", 30)]

    quarantine = lake.quarantine("order_lines")
    assert [(d, rule, run) for d, rule, run, _, _ in quarantine] == [
        ("ingest_date=2024-05-01", "range:quantity_ordered", "cr_1"),
        ("ingest_date=2024-05-01", "references:order_number", "cr_1"),
        ("ingest_date=2024-05-01", "references:product_code", "cr_1"),
    ]
    assert quarantine[0][3].startswith("2024-05-03T12:00:00")
    record = json.loads(quarantine[0][4])
    assert record["quantity_ordered"] == 0 and record["_run_id"] == "jr_a" and record["run_id"] == "jr_a"
    assert [q[1] for q in lake.quarantine("orders")] == ["allowed_values:status"]
    assert [q[1] for q in lake.quarantine("employees")] == ["references:office_code"]
    assert [q[1] for q in lake.quarantine("payments")] == ["range:amount"]
    # A table without rejects writes no quarantine at all (an empty write would replace nothing).
    assert not (lake.root / "quarantine" / "offices").exists()

    again = ["customers", "payments", "order_lines"]
    before = {t: (lake.curated(spark, t), lake.quarantine(t), sorted(lake.files(t))) for t in again}
    assert lake.run(job, spark, tables=again) == {t: counts[t] for t in again}
    assert {t: (lake.curated(spark, t), lake.quarantine(t), sorted(lake.files(t))) for t in again} == before


def test_tables_run_side_by_side_but_each_after_the_tables_it_references_were_curated(full_run):
    started, curated, written = full_run["started"], full_run["curated"], full_run["written"]
    assert set(started) == set(curated) == set(written) == set(SOURCE_TABLES)
    pairs = [
        (table, parent)
        for table in SOURCE_TABLES
        for parent in quality.reference_datasets(quality.load_rules(load_source_declaration(table), quality.CURATED))
        if parent != table
    ]
    assert len(pairs) >= 6  # employees, customers, orders, payments, products, order_lines (2)
    for table, parent in pairs:
        # A child is checked against its parent's curated rows of this run, which the parent
        # may still be writing.
        assert curated[parent] <= started[table], f"{table} started before {parent} was curated"
    # Every kept row was released: by each table after its writes, or by its last child.
    assert full_run["kept_after"] <= full_run["kept_before"]


def test_a_child_of_a_failed_parent_is_checked_against_the_parents_existing_curated_table(job, spark, tmp_path):
    lake = Lake(tmp_path)
    write_raw(spark, lake.raw, "product_lines", [{"product_line": "Planes"}], MAY_1)
    write_raw(spark, lake.raw, "products", [{"product_code": "S10_1", "product_line": "Planes"}], MAY_1)
    lake.run(job, spark, tables=["product_lines", "products"])

    # Next day every product_lines row is quarantined (row_count blocks): the table keeps
    # "Planes", and "Ships", only in the failed snapshot, is unknown to the products.
    write_raw(spark, lake.raw, "product_lines", [{"product_line": "Ships", "updated_at": None}], MAY_2)
    write_raw(spark, lake.raw, "products", [{"product_code": "S10_1", "product_line": "Planes"},
                                            {"product_code": "S10_2", "product_line": "Ships"}], MAY_2)
    kept_before = kept_rdds(spark)
    with pytest.raises(SourceCurationError, match="product_lines: Data quality check failed"):
        lake.run(job, spark, tables=["product_lines", "products"], run_id="cr_2")
    assert lake.curated(spark, "product_lines", "product_line", "_run_id") == [("Planes", "cr_1")]
    assert lake.curated(spark, "products", "product_code", "_run_id") == [("S10_1", "cr_2")]
    quarantined = [(rule, json.loads(record)["product_code"]) for _, rule, _, _, record in lake.quarantine("products")]
    assert quarantined == [("references:product_line", "S10_2")]
    assert kept_rdds(spark) <= kept_before


def test_failed_tables_keep_their_curated_table_and_the_run_fails_at_the_end(job, spark, tmp_path):
    lake = Lake(tmp_path)
    tables = ["offices", "product_lines", "payments", "customers"]
    write_raw(spark, lake.raw, "offices", [{"office_code": "1"}], MAY_1)
    write_raw(spark, lake.raw, "product_lines", [{"product_line": "Planes"}], MAY_1)
    write_raw(spark, lake.raw, "payments", [{"check_number": "A1"}], MAY_1, run_id="jr_a")
    write_raw(spark, lake.raw, "customers", [{"customer_number": 103}], MAY_1, run_id="jr_a")
    lake.run(job, spark, tables=tables)

    # Next day: a new offices snapshot, a renamed payments column, and a product_lines snapshot
    # whose every row is quarantined (row_count blocks), customers lose no data.
    write_raw(spark, lake.raw, "offices", [{"office_code": "7"}, {"office_code": "8"}], MAY_2)
    write_raw(spark, lake.raw, "product_lines", [{"product_line": "Ships", "updated_at": None}], MAY_2)
    write_raw(spark, lake.raw, "payments", [{"check_number": "B2", "value": Decimal("1.00")}], MAY_2, run_id="jr_b",
              drop=["amount"], add={"value": "decimal(10,2)"})
    sink = RecordingSink()
    with pytest.raises(SourceCurationError) as error:
        lake.run(job, spark, sink, tables=tables, run_id="cr_2")

    message = str(error.value)
    assert message.startswith("2 source table(s) not curated (payments, product_lines); their curated tables were left")
    assert "Schema drift in dataset 'payments': column 'amount' appears renamed to 'value'" in message
    assert ("Data quality check failed for dataset 'product_lines' (1 blocking rule(s)): row_count: 0 row(s), "
            "expected at least 1") in message
    assert set(error.value.counts) == {"offices", "customers"}
    # The snapshot is read from its latest ingest_date only.
    assert lake.curated(spark, "offices", "office_code", "_run_id") == [("7", "cr_2"), ("8", "cr_2")]
    assert lake.curated(spark, "product_lines", "product_line", "_run_id") == [("Planes", "cr_1")]
    assert lake.curated(spark, "payments", "check_number", "_run_id") == [("A1", "cr_1")]
    assert lake.quarantine("product_lines") == []
    assert sink.values[("payments", "SchemaDrift")] == 1
    assert sink.values[("product_lines", "DataQualityFailures")] == 1
    assert sink.values[("product_lines", "RowsQuarantined")] == 1
    assert sink.values[("offices", "SchemaDrift")] == 0


def test_a_table_without_raw_data_fails_and_a_missing_parent_counts_as_empty(job, spark, tmp_path, capsys):
    lake = Lake(tmp_path)
    write_raw(spark, lake.raw, "product_lines", [{"product_line": "Planes"}], MAY_1)
    with pytest.raises(SourceCurationError) as error:
        lake.run(job, spark, tables=["products", "product_lines"])
    assert "products: No raw data for 'products'" in str(error.value)
    assert lake.curated(spark, "product_lines", "product_line") == [("Planes",)]

    write_raw(spark, lake.raw, "payments", [{"check_number": "A1"}], MAY_1, run_id="jr_a")
    with pytest.raises(SourceCurationError, match="payments: Data quality check failed"):
        lake.run(job, spark, tables=["payments"])
    assert "reference dataset 'customers' has no curated table" in capsys.readouterr().out
