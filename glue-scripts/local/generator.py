"""Deterministic, seeded test data: the source tables and click events, in the raw zone's layout.

Local only (the tests, ``pipeline:local``, the benchmark): it lives in ``glue-scripts/local``,
outside the package zipped and shipped to Glue (``glue-scripts/lib``), and is imported as
``local.generator``.

:func:`generate` writes what the batch extract (``jobs/source_extract.py``) and Kinesis
Data Firehose would have written for one day, ``as_of``, so the real raw -> curated jobs
read it unchanged:

* the 8 source tables of ``schemas/source/*.json`` (a classic-models retail shop), as
  snappy Parquet under ``<raw_root>/source/<table>/ingest_date=<as_of>/`` (snapshot tables)
  or ``.../ingest_date=<as_of>/run_id=<run_id>/`` (incremental tables), with exactly the
  columns the extract writes (:func:`undercurrent_glue.extract.conform` builds them):
  the declared columns in declared types, ``_run_id``, ``_extracted_at``, then the
  partition columns;
* click events as GZIP JSON lines under
  ``<raw_root>/clickstream/event_date=D/ingest_date=D/part-*.gz``, one JSON object per
  line exactly as ``lib/ingestion/producer/click-events.ts`` sends it (declared key order, nulls
  written explicitly, ``event_time`` like ``2025-06-29T14:05:09.120+00:00``), for the 14
  days before ``as_of`` (a session crossing midnight may reach ``as_of`` itself).

:func:`generate_increment` writes a later extract of the incremental tables on the same
day (a new ``run_id`` partition): some customers changed, some new orders, order lines and
payments, to show SCD2 history.

Determinism: every value is a function of ``(seed, scale, as_of, row number)`` computed
with Spark hash expressions (``xxhash64``), never ``rand()``, so the same arguments give
the same rows whatever the number of cores, partitions, ``spark.sql.shuffle.partitions``
(no step shuffles) or session time zone. Only the few bad rows' row numbers and the bad
click lines come from Python's ``random`` seeded with a string (stable across platforms
and Python versions). The ``_extracted_at``
instants are fixed too (``as_of`` 01:00 UTC for :func:`generate`, 2 hours later for
each increment). Only file names differ between runs. Writing replaces exactly the
partitions written (dynamic partition overwrite), so a rerun with the same arguments is
idempotent and leaves other days and run ids alone.

Sizes at ``scale`` 1 (counts grow linearly with ``scale``; each at least 1 row):
~1,000 customers, ~20,000 orders, ~100,000 order lines (1 to 9 per order),
~15,000 payments, ~100,000 click events (~25,000 sessions); products grow with
``sqrt(scale)`` (500 at scale 1, at least 20), employees too (50, at least 10);
offices (7) and product lines (7) are fixed. See :func:`table_sizes`.

Referential integrity holds unless ``bad_rows=True``: order_lines -> orders and
products, orders and payments -> customers, customers.sales_rep_employee_number ->
employees (sales reps; 5% null), employees -> offices (and ``reports_to`` ->
employees), products -> product_lines. Every ``updated_at`` is before ``_extracted_at``.

Bad rows (``bad_rows=True``) are extra rows added to the clean data (the clean rows are
exactly those of ``bad_rows=False``); kinds, named like the data-quality rule that
catches them where there is one (see :data:`BAD_ROW_KINDS`):

* ``customers``: ``not_null:customer_number`` (copies of customers with a null key),
  ``older_version`` (an older version of existing customers: same key, earlier
  ``updated_at``, other phone, address and credit limit; deduplication keeps the newer);
* ``orders``: ``not_null:order_number`` (copies with a null key), ``duplicate`` (exact
  copies of existing rows), ``references:customer_number`` (new orders, numbers from
  1,000,000,000, of customers that do not exist, numbers from 2,000,000,000);
* ``order_lines``: ``range:quantity_ordered`` (an extra line of an existing order with a
  negative quantity), ``duplicate`` (exact copies), ``references:product_code`` (an extra
  line of a product that does not exist, codes ``S99_0001``...);
* ``clickstream_events``: ``malformed_json`` (truncated lines and a line that is not JSON)
  and ``invalid_event_time`` (``2024-13-45T99:00:00Z``, ``yesterday``), in the ingest date
  before ``as_of``; the clickstream transform quarantines them under these rule names.
  ``duplicate``: exact copies of valid lines of that ingest date, next to their originals
  (as Firehose's retries deliver them); the transform removes them.

Schema drift (``drift``): ``rename`` writes customers with ``phone`` renamed
``phone_number`` (same position); ``retype`` writes ``order_lines.quantity_ordered`` as
``double``; ``add`` appends ``weight_kg`` (double) to products after the declared
columns, before ``_run_id``. The real extract would refuse the first two and drop the
third; raw written with drift exists to test the transform's drift guard.

Nothing here imports ``awsglue`` or depends on the session time zone.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, functions as F
from pyspark.sql.types import DoubleType, LongType

from undercurrent_glue.extract import (
    conform,
    partition_columns,
    plan_for,
    raw_table_path,
    write_options,
)
from undercurrent_glue.ingest_dates import INGEST_DATE, RAW_EVENT_DATE
from undercurrent_glue.schema import SOURCE_TABLES, load_source_declaration, spark_type

#: Dataset name of the click events in :class:`Manifest`.
CLICKSTREAM_DATASET = "clickstream_events"
#: Directory of the raw click events under the raw root.
RAW_CLICKSTREAM_PREFIX = "clickstream"
#: Drift kinds :func:`generate` accepts.
DRIFT_KINDS = ("rename", "retype", "add")
#: Bad-row kinds injected by ``bad_rows=True`` and how many rows of each (fewer only when
#: the clean table has fewer rows to copy).
BAD_ROW_KINDS: Mapping[str, Mapping[str, int]] = {
    "customers": {"not_null:customer_number": 2, "older_version": 3},
    "orders": {"not_null:order_number": 2, "duplicate": 3, "references:customer_number": 2},
    "order_lines": {"range:quantity_ordered": 3, "duplicate": 3, "references:product_code": 2},
    CLICKSTREAM_DATASET: {"malformed_json": 3, "invalid_event_time": 2, "duplicate": 3},
}
#: ``as_of`` when none is given (a fixed date, so that the default output never changes).
DEFAULT_AS_OF = dt.date(2025, 6, 30)
MAX_SEED = 0xFFFFFFFF
#: Beyond this, order numbers would overflow ``int``.
MAX_SCALE = 10_000.0
#: Increments per day: extract ``k`` is at ``as_of`` 01:00 UTC + 2k hours.
MAX_INCREMENT = 11
#: Days of order history before ``as_of``.
ORDER_HISTORY_DAYS = 730
#: Days of click events before ``as_of``.
CLICK_DAYS = 14

_BASE = {"customers": 1000, "orders": 20000, "payments": 15000, "click_events": 100000}
_BASE_PRODUCTS = 500
_MIN_PRODUCTS = 20
_BASE_EMPLOYEES = 50
_MIN_EMPLOYEES = 10
_MAX_LINES_PER_ORDER = 9
# Mean events per generated session (measured on the funnel below; only sets the
# number of sessions, the manifest has the real count).
_EVENTS_PER_SESSION = 4.0
_ROWS_PER_PARTITION = 2_000_000
_FIRST_CUSTOMER = 101
_FIRST_ORDER = 10100
_FIRST_EMPLOYEE = 1002
_FIRST_SALES_REP = 6  # employee ids 0..5 are the president, two VPs and three managers
_BAD_ORDER_NUMBER = 1_000_000_000
_MISSING_CUSTOMER = 2_000_000_000
_DAY = 86_400
_EXTRACT_SECONDS = 3_600  # the first extract of the day is at 01:00 UTC
_INCREMENT_SECONDS = 7_200
_EPOCH_DATE = dt.date(1970, 1, 1)
_TWO_53 = 1 << 53
_DECIMAL = "decimal(10,2)"

# --- reference data -------------------------------------------------------------------

_PRODUCT_LINES = [
    ("Classic Cars", "Die-cast replicas of classic cars from the golden age of motoring.",
     ["Ferrari Dino 246 GT", "Ford Mustang", "Chevrolet Corvette", "Porsche 911", "Jaguar E-Type"]),
    ("Motorcycles", "Detailed models of motorcycles, from choppers to superbikes.",
     ["Harley Davidson Ultimate Chopper", "Ducati 900 Monster", "BMW R 1100 S", "Honda CB750"]),
    ("Planes", "Scale models of civil and military aircraft.",
     ["Supermarine Spitfire", "P-51-D Mustang", "Boeing X-32A JSF", "Douglas DC-3"]),
    ("Ships", "Replicas of famous ships and sailing vessels.",
     ["Titanic", "HMS Bounty", "Mayflower", "USS Constitution"]),
    ("Trains", "Model locomotives and rolling stock.",
     ["Collectable Wooden Train", "Diesel Locomotive", "Steam Locomotive", "Orient Express Coach"]),
    ("Trucks and Buses", "Die-cast trucks, vans and buses.",
     ["Ford F-150", "Mack Dump Truck", "Peterbilt 379", "Volkswagen Bus"]),
    ("Vintage Cars", "Replicas of cars built before 1940.",
     ["Ford Model T", "Bugatti Royale", "Duesenberg SJ", "Rolls-Royce Phantom"]),
]
_PRODUCT_SCALES = ["1:10", "1:12", "1:18", "1:24", "1:32", "1:50", "1:72", "1:700"]
_VENDORS = [
    "Min Lin Diecast", "Classic Metal Creations", "Highway 66 Mini Classics", "Red Start Diecast",
    "Motor City Art Classics", "Second Gear Diecast", "Autoart Studio Design", "Welly Diecast Productions",
    "Unimax Art Galleries", "Studio M Art Models", "Exoto Designs", "Gearbox Collectibles",
    "Carousel DieCast Legends",
]
_FEATURES = [
    "opening doors", "a detailed engine", "rubber tires", "a working steering system",
    "chrome trim", "a display stand", "hand-painted details", "opening hood and trunk",
]
# (office_code, city, phone, address_line1, address_line2, state, country, postal_code, territory)
_OFFICES = [
    ("1", "San Francisco", "+1 650 219 4782", "100 Market Street", "Suite 300", "CA", "USA", "94080", "NA"),
    ("2", "Boston", "+1 215 837 0825", "1550 Court Place", "Suite 102", "MA", "USA", "02107", "NA"),
    ("3", "NYC", "+1 212 555 3000", "523 East 53rd Street", "apt. 5A", "NY", "USA", "10022", "NA"),
    ("4", "Paris", "+33 14 723 4404", "43 Rue Jouffroy D'abbans", None, None, "France", "75017", "EMEA"),
    ("5", "Tokyo", "+81 33 224 5000", "4-1 Kioicho", None, "Chiyoda-Ku", "Japan", "102-8578", "Japan"),
    ("6", "Sydney", "+61 2 9264 2451", "5-11 Wentworth Avenue", "Floor #2", None, "Australia", "NSW 2010", "APAC"),
    ("7", "London", "+44 20 7877 2041", "25 Old Broad Street", "Level 7", None, "UK", "EC2N 1HN", "EMEA"),
]
# Employee ids 0..5: (job title, office code, reports_to id or None).
_MANAGEMENT = [
    ("President", "1", None),
    ("VP Sales", "1", 0),
    ("VP Marketing", "1", 0),
    ("Sales Manager (APAC)", "6", 1),
    ("Sales Manager (EMEA)", "4", 1),
    ("Sales Manager (NA)", "1", 1),
]
# The manager (employee id) of a sales rep, by office code 1..7 (Japan reports to APAC).
_MANAGER_BY_OFFICE = [5, 5, 5, 4, 3, 3, 4]
_FIRST_NAMES = [
    "Diane", "Mary", "Jeff", "William", "Gerard", "Anthony", "Leslie", "Julie", "Steve", "Foon Yue",
    "George", "Loui", "Pamela", "Larry", "Barry", "Andy", "Tom", "Mami", "Yoshimi", "Martin",
    "Carine", "Jean", "Peter", "Janine", "Jonas", "Susan", "Roland", "Julie", "Kwai", "Diego",
]
_LAST_NAMES = [
    "Murphy", "Patterson", "Firrelli", "Bondur", "Bow", "Jennings", "Thompson", "Tseng", "Vanauf",
    "Hernandez", "Castillo", "Bott", "Jones", "Fixter", "Marsh", "King", "Nishi", "Kato", "Gerard",
    "Schmitt", "King", "Ferguson", "Labrune", "Bergulfsen", "Nelson", "Piestrzeniewicz", "Keitel",
    "Murphy", "Lee", "Freyre",
]
_COMPANY_WORDS = [
    "Atelier", "Signal", "Australian", "La Rochelle", "Baane", "Mini", "Land of", "Euro+", "Volvo",
    "Danish", "Saveley", "Dragon", "Muscle Machine", "Diecast", "Technics", "Handji", "Herkku",
    "Corporate", "Classic", "Toys4", "Auto", "Royal",
]
_COMPANY_SUFFIXES = [
    "Gifts", "Collectors, Co.", "Imports", "Wheels Ltd.", "Model Replicas", "Toys Inc.", "Collectables",
    "Shopping Channel", "Souvenirs", "Distributors", "Depot", "Gift Stores", "Classics Corp.",
]
_STREETS = [
    "rue des Bouchers", "Lyonerstr.", "Hauptstr.", "Avenue of the Americas", "Fauntleroy Circus",
    "Berguvsvägen", "Kirchgasse", "Strada Provinciale", "Monitor Street", "Rambla de Cataluña",
    "Drammen", "Village Close", "Geislweg", "Merchants Dock", "Ansgar Str.", "Dorval Street",
]
# (city, state, country, postal_code, phone prefix)
_LOCATIONS = [
    ("Nantes", None, "France", "44000", "40.32.25"),
    ("Las Vegas", "NV", "USA", "83030", "7025551"),
    ("Melbourne", "Victoria", "Australia", "3004", "03 9520"),
    ("Stavern", None, "Norway", "4110", "07-98"),
    ("San Rafael", "CA", "USA", "97562", "4155551"),
    ("Singapore", None, "Singapore", "079903", "+65 221"),
    ("Lisboa", None, "Portugal", "1756", "(1) 356-"),
    ("Frankfurt", None, "Germany", "60528", "069-0555"),
    ("San Francisco", "CA", "USA", "94217", "6505555"),
    ("NYC", "NY", "USA", "10022", "2125557"),
    ("Madrid", None, "Spain", "28034", "(91) 555"),
    ("Luleå", None, "Sweden", "S-958 22", "0921-12"),
    ("Kobenhavn", None, "Denmark", "1734", "31 12"),
    ("Lyon", None, "France", "69004", "78.32.54"),
    ("Osaka", "Osaka", "Japan", "530-0003", "+81 06 6342"),
    ("London", None, "UK", "WX1 6LT", "(171) 555"),
    ("Auckland", None, "New Zealand", "1020", "+64 9 312"),
    ("Torino", None, "Italy", "10100", "011-49"),
    ("Helsinki", None, "Finland", "21240", "90-224"),
    ("Boston", "MA", "USA", "51247", "6175558"),
]
_ORDER_COMMENTS = {
    "Cancelled": "Customer cancelled the order: the shipment was delayed.",
    "On Hold": "Customer credit limit exceeded. Will ship when a payment is received.",
    "Disputed": "Customer claims the shipment was damaged; investigating with the carrier.",
    "Resolved": "Disputed shipment; a replacement was sent.",
}

# --- click events (as lib/ingestion/producer/click-events.ts) ------------------------------------

_SITE = "https://shop.example.com"
_LANDING_PAGES = [f"{_SITE}/", f"{_SITE}/search?q=ferrari", f"{_SITE}/search?q=harley+davidson", f"{_SITE}/deals"]
_PRODUCT_LINE_PAGES = [
    f"{_SITE}/product-lines/{line}"
    for line in ("classic-cars", "motorcycles", "planes", "ships", "trains", "trucks-and-buses", "vintage-cars")
]
_EXTERNAL_REFERRERS = [
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://duckduckgo.com/",
    "https://news.example.org/diecast-models",
    "https://mail.example.net/newsletter/2025-spring",
]
_USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile "
    "Safari/537.36",
]
_CART_URL = f"{_SITE}/cart"
_CHECKOUT_URL = f"{_SITE}/checkout"
_CONFIRMATION_URL = f"{_SITE}/checkout/confirmation"
# The producer's funnel probabilities, plus the chance of a >30-minute pause in a session.
_FUNNEL = {
    "signed_in": 0.55,
    "no_user_agent": 0.03,
    "direct_visit": 0.35,
    "views_products": 0.75,
    "adds_to_cart": 0.45,
    "adds_another_viewed": 0.35,
    "removes_from_cart": 0.15,
    "checks_out": 0.55,
    "purchases": 0.7,
    "long_pause": 0.1,
}
_CLICK_COLUMNS = (
    "event_id", "event_type", "event_time", "session_id", "customer_number",
    "product_code", "page_url", "referrer", "user_agent",
)


@dataclass(frozen=True)
class Manifest:
    """What one :func:`generate` or :func:`generate_increment` call wrote.

    Attributes:
        as_of: the ``ingest_date`` written (and the day the data ends).
        run_id: the ``run_id`` (``_run_id``) of the rows written.
        seed: the seed.
        scale: the scale factor.
        rows: rows written per dataset, bad rows included: source tables by name,
            ``clickstream_events`` for click event lines.
        bad_rows: injected bad rows, ``{dataset: {kind: count}}`` (see
            :data:`BAD_ROW_KINDS`); empty when none were injected.
        drift: the drift kinds applied, sorted.
        extracted_at: the ``_extracted_at`` of the source rows (UTC).
    """

    as_of: dt.date
    run_id: str
    seed: int
    scale: float
    rows: dict[str, int]
    bad_rows: dict[str, dict[str, int]] = field(default_factory=dict)
    drift: tuple[str, ...] = ()
    extracted_at: dt.datetime | None = None

    def bad_row_count(self, dataset: str) -> int:
        """Total injected bad rows of ``dataset`` (0 when none)."""
        return sum(self.bad_rows.get(dataset, {}).values())


def table_sizes(scale: float) -> dict[str, int]:
    """Rows of each generated entity at ``scale`` (order lines and click events are
    averages: their exact numbers are in the :class:`Manifest`).

    Raises:
        ValueError: ``scale`` is not a number in (0, :data:`MAX_SCALE`].
    """
    _check_scale(scale)
    root = math.sqrt(scale)
    orders = max(1, round(_BASE["orders"] * scale))
    return {
        "product_lines": len(_PRODUCT_LINES),
        "offices": len(_OFFICES),
        "employees": max(_MIN_EMPLOYEES, round(_BASE_EMPLOYEES * root)),
        "products": max(_MIN_PRODUCTS, round(_BASE_PRODUCTS * root)),
        "customers": max(1, round(_BASE["customers"] * scale)),
        "orders": orders,
        "order_lines": orders * (1 + _MAX_LINES_PER_ORDER) // 2,
        "payments": max(1, round(_BASE["payments"] * scale)),
        "click_sessions": max(1, round(_BASE["click_events"] * scale / _EVENTS_PER_SESSION)),
        CLICKSTREAM_DATASET: max(1, round(_BASE["click_events"] * scale)),
    }


# --- argument checks -------------------------------------------------------------------


def _check_scale(scale: Any) -> None:
    if (
        isinstance(scale, bool)
        or not isinstance(scale, (int, float))
        or not math.isfinite(scale)
        or not 0 < scale <= MAX_SCALE
    ):
        raise ValueError(f"scale must be a number greater than 0 and at most {MAX_SCALE:g}; got {scale!r}.")


def _check_arguments(raw_root: Any, scale: Any, seed: Any, as_of: Any) -> None:
    _check_scale(scale)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer from 0 to {MAX_SEED}; got {seed!r}.")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise ValueError(f"as_of must be a datetime.date (the ingest date written); got {as_of!r}.")
    raw_table_path(raw_root, "customers")  # ValueError for an empty raw_root


def _check_drift(drift: Any) -> tuple[str, ...]:
    if isinstance(drift, str) or not isinstance(drift, (list, tuple, set, frozenset)):
        raise ValueError(
            f"drift must be a list of drift kinds from {', '.join(DRIFT_KINDS)} (e.g. ['rename']); got {drift!r}."
        )
    unknown = [kind for kind in drift if kind not in DRIFT_KINDS]
    if unknown:
        raise ValueError(f"drift has unknown kind(s) {unknown!r}; known kinds: {', '.join(DRIFT_KINDS)}.")
    return tuple(sorted(set(drift)))


# --- hash-based pseudo-randomness ------------------------------------------------------


class _Gen:
    """The generator's state: seed, sizes and dates, and the column expressions."""

    def __init__(self, spark: SparkSession, scale: float, seed: int, as_of: dt.date):
        self.spark = spark
        self.seed = seed
        self.sizes = table_sizes(scale)
        self.as_of = as_of
        self.as_of_day = (as_of - _EPOCH_DATE).days
        self.extract_second = self.as_of_day * _DAY + _EXTRACT_SECONDS

    # Pseudo-random numbers: pure functions of (seed, salt, columns).

    def hash(self, salt: str, *cols: Column) -> Column:
        return F.xxhash64(F.lit(self.seed).cast(LongType()), F.lit(salt), *cols)

    def unit(self, salt: str, *cols: Column) -> Column:
        """A double uniform in [0, 1)."""
        return F.pmod(self.hash(salt, *cols), F.lit(_TWO_53)).cast(DoubleType()) / float(_TWO_53)

    def below(self, bound: Any, salt: str, *cols: Column) -> Column:
        """A long uniform in [0, bound); ``bound`` a positive int or column."""
        return F.pmod(self.hash(salt, *cols), F.lit(bound) if isinstance(bound, int) else bound)

    def chance(self, p: float, salt: str, *cols: Column) -> Column:
        return self.unit(salt, *cols) < F.lit(p)

    def pick(self, values: Sequence[Any], salt: str, *cols: Column) -> Column:
        return _at(values, self.below(len(values), salt, *cols))

    def range(self, start: int, end: int) -> DataFrame:
        """Ids ``start <= id < end`` (column ``id``), in partitions of at most ~2M rows."""
        partitions = max(self.spark.sparkContext.defaultParallelism, math.ceil((end - start) / _ROWS_PER_PARTITION))
        return self.spark.range(start, end, 1, partitions)

    def ids(self, values: Sequence[int]) -> DataFrame:
        """Column ``id`` holding ``values`` and column ``k``, the position of each (0-based)."""
        return self.rows({"id": ("bigint", list(values))}).select("id", F.col("_k").cast("int").alias("k"))

    def rows(self, columns: Mapping[str, tuple[str, Sequence[Any]]]) -> DataFrame:
        """A small DataFrame of literal rows, ``{name: (type, values)}``, plus its row number
        ``_k``; built in the JVM (no Python worker, unlike ``createDataFrame``)."""
        count = len(next(iter(columns.values()))[1])
        k = F.col("id")
        return self.spark.range(0, count, 1, 1).select(
            *[_at(values, k).cast(type_).alias(name) for name, (type_, values) in columns.items()],
            k.alias("_k"),
        )

    def sample(self, kind: str, population: int, count: int) -> list[int]:
        """``count`` distinct ids below ``population`` (fewer if it is smaller), the same for
        the same seed (Python's ``random`` with a string seed is stable across platforms)."""
        return sorted(random.Random(f"{self.seed}:{kind}").sample(range(population), min(count, population)))

    # Entities: each a function of an id column.

    def product_code(self, pid: Column) -> Column:
        scale = self.pick(_PRODUCT_SCALES, "product.scale", pid)
        return F.concat(F.lit("S"), F.substring_index(scale, ":", -1), F.lit("_"), (pid + 1000).cast("string"))

    def product_cents(self, pid: Column) -> tuple[Column, Column]:
        """(buy_price, msrp) in cents, as longs."""
        buy = 1500 + self.below(9500, "product.buy", pid)
        msrp = F.floor(buy * (140 + self.below(81, "product.margin", pid)) / 100)
        return buy, msrp

    def customer_number(self, salt: str, *cols: Column) -> Column:
        return (F.lit(_FIRST_CUSTOMER) + self.below(self.sizes["customers"], salt, *cols)).cast("int")

    def employee_number(self, eid: Column) -> Column:
        return (F.lit(_FIRST_EMPLOYEE) + eid).cast("int")

    def sales_rep(self, salt: str, *cols: Column) -> Column:
        reps = self.sizes["employees"] - _FIRST_SALES_REP
        return self.employee_number(F.lit(_FIRST_SALES_REP) + self.below(reps, salt, *cols))

    def order_day(self, oid: Column) -> Column:
        """Days since the epoch of a base order: spread in order-number order over the
        :data:`ORDER_HISTORY_DAYS` days before ``as_of``."""
        n = self.sizes["orders"]
        offset = F.floor((oid.cast(DoubleType()) + self.unit("order.day", oid)) * ORDER_HISTORY_DAYS / n)
        return (F.lit(self.as_of_day - ORDER_HISTORY_DAYS) + offset).cast("int")

    def lines_in_order(self, oid: Column) -> Column:
        return (1 + self.below(_MAX_LINES_PER_ORDER, "order.lines", oid)).cast("int")

    def line_product(self, oid: Column, line: Column) -> Column:
        """Product id of line ``line`` (1-based) of an order; distinct for lines 1..10."""
        n = self.sizes["products"]
        stride = 1 + self.below(max(1, (n - 1) // (_MAX_LINES_PER_ORDER + 1)), "order.stride", oid)
        return F.pmod(self.below(n, "order.start", oid) + line * stride, F.lit(n))


def _at(values: Sequence[Any], index: Column) -> Column:
    """``values[index]`` (0-based) for a Python list of literals."""
    return F.element_at(F.array(*[F.lit(v) for v in values]), (index + 1).cast("int"))


def _seconds(col: Column) -> Column:
    return F.timestamp_seconds(col)


def _date(day: Column) -> Column:
    return F.date_from_unix_date(day.cast("int"))


def _money(cents: Column) -> Column:
    return (cents.cast("decimal(18,0)") / F.lit(100)).cast(_DECIMAL)


def _in_day(g: _Gen, day: Column, salt: str, *cols: Column) -> Column:
    """A second of UTC day ``day`` (08:00 to 20:00)."""
    return day.cast(LongType()) * _DAY + 8 * 3600 + g.below(12 * 3600, salt, *cols)


def _before_extract(g: _Gen, max_days: int, salt: str, *cols: Column) -> Column:
    """``updated_at`` (epoch seconds) 1..max_days days before ``as_of``."""
    day = F.lit(g.as_of_day - 1) - g.below(max_days, salt + ".day", *cols)
    return _in_day(g, day, salt, *cols)


# --- source tables ---------------------------------------------------------------------


def _product_lines(g: _Gen) -> DataFrame:
    rows = [
        (name, text, None, (g.as_of_day - 400 - 11 * i) * _DAY + 9 * 3600)
        for i, (name, text, _) in enumerate(_PRODUCT_LINES)
    ]
    df = g.rows({
        "product_line": ("string", [r[0] for r in rows]),
        "text_description": ("string", [r[1] for r in rows]),
        "html_description": ("string", [r[2] for r in rows]),
        "s": ("bigint", [r[3] for r in rows]),
    })
    return df.select("product_line", "text_description", "html_description", _seconds(F.col("s")).alias("updated_at"))


def _offices(g: _Gen) -> DataFrame:
    rows = [(*office, (g.as_of_day - 500 - 13 * i) * _DAY + 10 * 3600) for i, office in enumerate(_OFFICES)]
    names = "office_code, city, phone, address_line1, address_line2, state, country, postal_code, territory"
    columns = {name: ("string", [r[i] for r in rows]) for i, name in enumerate(names.split(", "))}
    df = g.rows({**columns, "s": ("bigint", [r[-1] for r in rows])})
    return df.select(*names.split(", "), _seconds(F.col("s")).alias("updated_at"))


# reports_to of the management (employee ids), -1 for none; one extra entry for reps.
_MANAGEMENT_REPORTS = [-1 if m[2] is None else m[2] for m in _MANAGEMENT] + [-1]


def _employees(g: _Gen) -> DataFrame:
    eid = F.col("id")
    management = len(_MANAGEMENT)
    is_rep = eid >= management
    rep_office = 1 + g.below(len(_OFFICES), "employee.office", eid)
    manager_id = _at(_MANAGEMENT_REPORTS, F.least(eid, F.lit(management))).cast("long")
    rep_manager = _at(_MANAGER_BY_OFFICE, rep_office - 1).cast("long")
    first = g.pick(_FIRST_NAMES, "employee.first", eid)
    last = g.pick(_LAST_NAMES, "employee.last", eid)
    return g.range(0, g.sizes["employees"]).select(
        g.employee_number(eid).alias("employee_number"),
        last.alias("last_name"),
        first.alias("first_name"),
        F.concat(F.lit("x"), (1000 + g.below(9000, "employee.ext", eid)).cast("string")).alias("extension"),
        F.concat(
            F.lower(F.regexp_replace(F.concat(F.substring(first, 1, 1), last), "[^A-Za-z]", "")),
            F.lit("@classicmodelcars.com"),
        ).alias("email"),
        F.when(is_rep, rep_office.cast("string"))
        .otherwise(_at([m[1] for m in _MANAGEMENT] + [""], F.least(eid, F.lit(management))))
        .alias("office_code"),
        F.when(is_rep, g.employee_number(rep_manager))
        .otherwise(F.when(manager_id >= 0, g.employee_number(manager_id)))
        .alias("reports_to"),
        F.when(is_rep, F.lit("Sales Rep"))
        .otherwise(_at([m[0] for m in _MANAGEMENT] + [""], F.least(eid, F.lit(management))))
        .alias("job_title"),
        _seconds(_before_extract(g, 900, "employee.updated", eid)).alias("updated_at"),
    )


def _products(g: _Gen) -> DataFrame:
    pid = F.col("id")
    line = g.below(len(_PRODUCT_LINES), "product.line", pid)
    models = F.array(*[F.array(*[F.lit(m) for m in models]) for _, _, models in _PRODUCT_LINES])
    model_list = F.element_at(models, (line + 1).cast("int"))
    model = F.element_at(model_list, (g.below(F.size(model_list), "product.model", pid) + 1).cast("int"))
    scale = g.pick(_PRODUCT_SCALES, "product.scale", pid)
    buy, msrp = g.product_cents(pid)
    columns = [
        g.product_code(pid).alias("product_code"),
        F.concat((1900 + g.below(100, "product.year", pid)).cast("string"), F.lit(" "), model).alias("product_name"),
        _at([p[0] for p in _PRODUCT_LINES], line).alias("product_line"),
        scale.alias("product_scale"),
        g.pick(_VENDORS, "product.vendor", pid).alias("product_vendor"),
        F.concat(
            F.lit("This replica features "), g.pick(_FEATURES, "product.f1", pid), F.lit(" and "),
            g.pick(_FEATURES, "product.f2", pid), F.lit(". Scale "), scale, F.lit("."),
        ).alias("product_description"),
        g.below(10000, "product.stock", pid).cast("int").alias("quantity_in_stock"),
        _money(buy).alias("buy_price"),
        _money(msrp).alias("msrp"),
        _seconds(_before_extract(g, 600, "product.updated", pid)).alias("updated_at"),
    ]
    return g.range(0, g.sizes["products"]).select(*columns)


def _customers(g: _Gen, ids: DataFrame, variant: str = "", updated: Column | None = None) -> DataFrame:
    """Customers of ``ids``; ``variant`` salts the fields that change over time (phone,
    address, credit limit) and ``updated`` (epoch seconds) overrides ``updated_at``."""
    cid = F.col("id")
    loc = g.below(len(_LOCATIONS), "customer.location", cid)
    changing = f"customer.{variant}"
    location = {name: _at([row[i] for row in _LOCATIONS], loc) for i, name in enumerate(
        ("city", "state", "country", "postal_code", "phone_prefix"))}
    if updated is None:
        updated = _before_extract(g, 700, "customer.updated", cid)
    return ids.select(
        (F.lit(_FIRST_CUSTOMER) + cid).cast("int").alias("customer_number"),
        F.concat(
            g.pick(_COMPANY_WORDS, "customer.word", cid), F.lit(" "), g.pick(_COMPANY_SUFFIXES, "customer.suffix", cid)
        ).alias("customer_name"),
        g.pick(_LAST_NAMES, "customer.last", cid).alias("contact_last_name"),
        g.pick(_FIRST_NAMES, "customer.first", cid).alias("contact_first_name"),
        F.concat(
            location["phone_prefix"], F.lit(" "),
            F.lpad(g.below(10000, changing + "phone", cid).cast("string"), 4, "0"),
        ).alias("phone"),
        F.concat(
            (1 + g.below(999, changing + "house", cid)).cast("string"), F.lit(" "),
            g.pick(_STREETS, changing + "street", cid),
        ).alias("address_line1"),
        F.when(
            g.chance(0.15, changing + "line2?", cid),
            F.concat(F.lit("Suite "), (100 + g.below(900, changing + "suite", cid)).cast("string")),
        ).alias("address_line2"),
        location["city"].alias("city"),
        location["state"].alias("state"),
        location["postal_code"].alias("postal_code"),
        location["country"].alias("country"),
        F.when(~g.chance(0.05, "customer.norep", cid), g.sales_rep("customer.rep", cid)).alias(
            "sales_rep_employee_number"
        ),
        _money(g.below(2301, changing + "credit", cid) * 10000).alias("credit_limit"),
        _seconds(updated).alias("updated_at"),
    )


def _order_columns(g: _Gen, oid: Column, day: Column, updated: Column | None) -> list[Column]:
    """Columns of the order ``oid`` placed on ``day`` (days since the epoch); ``updated``
    (epoch seconds) overrides ``updated_at``."""
    age = F.lit(g.as_of_day) - day
    u = g.unit("order.status", oid)
    status = (
        F.when(age < 10, F.when(u < 0.85, "In Process").otherwise("On Hold"))
        .when(u < 0.90, "Shipped")
        .when(u < 0.93, "Resolved")
        .when(u < 0.96, "Cancelled")
        .when(u < 0.98, "On Hold")
        .otherwise("Disputed")
    )
    shipped = status.isin("Shipped", "Resolved", "Disputed")
    ship_day = F.least(day + 1 + g.below(6, "order.ship", oid), F.lit(g.as_of_day - 1))
    if updated is None:
        updated = _in_day(g, F.when(shipped, ship_day).otherwise(day), "order.updated", oid)
    comment = F.when(
        status.isin(*_ORDER_COMMENTS) & g.chance(0.8, "order.comment?", oid), _map_value(_ORDER_COMMENTS, status)
    ).when(status == "Shipped", F.when(g.chance(0.05, "order.note?", oid), F.lit("Check on availability.")))
    return [
        (F.lit(_FIRST_ORDER) + oid).cast("int").alias("order_number"),
        _date(day).alias("order_date"),
        _date(day + 7 + g.below(8, "order.required", oid)).alias("required_date"),
        F.when(shipped, _date(ship_day)).alias("shipped_date"),
        status.alias("status"),
        comment.alias("comments"),
        g.customer_number("order.customer", oid).alias("customer_number"),
        _seconds(updated).alias("updated_at"),
    ]


def _map_value(mapping: Mapping[str, str], key: Column) -> Column:
    return F.element_at(F.create_map(*[F.lit(x) for kv in mapping.items() for x in kv]), key)


def _orders(g: _Gen, ids: DataFrame, day: Column | None = None, updated: Column | None = None) -> DataFrame:
    oid = F.col("id")
    return ids.select(*_order_columns(g, oid, g.order_day(oid) if day is None else day, updated))


def _line_columns(g: _Gen, oid: Column, line: Column, day: Column, updated: Column | None) -> list[Column]:
    pid = g.line_product(oid, line)
    _, msrp = g.product_cents(pid)
    if updated is None:
        updated = _in_day(g, day, "order.updated.line", oid)
    return [
        (F.lit(_FIRST_ORDER) + oid).cast("int").alias("order_number"),
        g.product_code(pid).alias("product_code"),
        (10 + g.below(51, "line.quantity", oid, line)).cast("int").alias("quantity_ordered"),
        _money(F.floor(msrp * (85 + g.below(16, "line.discount", oid, line)) / 100)).alias("price_each"),
        line.cast("int").alias("order_line_number"),
        _seconds(updated).alias("updated_at"),
    ]


def _order_lines(g: _Gen, ids: DataFrame, day: Column | None = None, updated: Column | None = None) -> DataFrame:
    oid = F.col("id")
    exploded = ids.select(oid, F.explode(F.sequence(F.lit(1), g.lines_in_order(oid))).alias("line"))
    return exploded.select(
        *_line_columns(g, oid, F.col("line"), g.order_day(oid) if day is None else day, updated)
    )


def _payments(g: _Gen, ids: DataFrame, day: Column | None = None, updated: Column | None = None) -> DataFrame:
    pid = F.col("id")
    if day is None:
        day = F.lit(g.as_of_day - ORDER_HISTORY_DAYS) + g.below(ORDER_HISTORY_DAYS, "payment.day", pid)
    if updated is None:
        updated = _in_day(g, day, "payment.updated", pid)
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    return ids.select(
        g.customer_number("payment.customer", pid).alias("customer_number"),
        F.concat(
            g.pick(letters, "payment.l1", pid), g.pick(letters, "payment.l2", pid), (100000 + pid).cast("string")
        ).alias("check_number"),
        _date(day).alias("payment_date"),
        _money(100000 + g.below(11900000, "payment.amount", pid)).alias("amount"),
        _seconds(updated).alias("updated_at"),
    )


# --- bad rows ---------------------------------------------------------------------------


def _bad_source_rows(g: _Gen) -> tuple[dict[str, list[DataFrame]], dict[str, dict[str, int]]]:
    """Extra bad rows per table, and their counts by kind."""
    sizes = g.sizes
    frames: dict[str, list[DataFrame]] = {"customers": [], "orders": [], "order_lines": []}
    counts: dict[str, dict[str, int]] = {}

    def add(table: str, kind: str, df: DataFrame, rows: int) -> None:
        frames[table].append(df)
        if rows:
            counts.setdefault(table, {})[kind] = rows

    kinds = BAD_ROW_KINDS
    # customers
    ids = g.sample("bad.customers.null", sizes["customers"], kinds["customers"]["not_null:customer_number"])
    add("customers", "not_null:customer_number",
        _customers(g, g.ids(ids)).withColumn("customer_number", F.lit(None).cast("int")), len(ids))
    ids = g.sample("bad.customers.old", sizes["customers"], kinds["customers"]["older_version"])
    cid = F.col("id")
    older = _before_extract(g, 700, "customer.updated", cid) - (30 + g.below(300, "customer.older", cid)) * _DAY
    add("customers", "older_version", _customers(g, g.ids(ids), "old", older), len(ids))

    # orders
    ids = g.sample("bad.orders.null", sizes["orders"], kinds["orders"]["not_null:order_number"])
    add("orders", "not_null:order_number",
        _orders(g, g.ids(ids)).withColumn("order_number", F.lit(None).cast("int")), len(ids))
    ids = g.sample("bad.orders.dup", sizes["orders"], kinds["orders"]["duplicate"])
    add("orders", "duplicate", _orders(g, g.ids(ids)), len(ids))
    ids = g.sample("bad.orders.orphan", sizes["orders"], kinds["orders"]["references:customer_number"])
    orphans = g.ids(ids)
    oid = F.col("id")
    orphans = (
        orphans.select(*_order_columns(g, oid, g.order_day(oid), None), "k")
        .withColumn("order_number", (_BAD_ORDER_NUMBER + F.col("k")).cast("int"))
        .withColumn("customer_number", (_MISSING_CUSTOMER + F.col("k")).cast("int"))
        .drop("k")
    )
    add("orders", "references:customer_number", orphans, len(ids))

    # order_lines: extra lines (numbered after the order's last) keep the primary key unique.
    ids = g.sample("bad.lines.negative", sizes["orders"], kinds["order_lines"]["range:quantity_ordered"])
    extra = g.ids(ids).select(oid, (g.lines_in_order(oid) + 1).alias("line"))
    negative = extra.select(*_line_columns(g, oid, F.col("line"), g.order_day(oid), None)).withColumn(
        "quantity_ordered", (-1 - g.below(5, "line.negative", F.col("order_number"))).cast("int")
    )
    add("order_lines", "range:quantity_ordered", negative, len(ids))
    ids = g.sample("bad.lines.dup", sizes["orders"], kinds["order_lines"]["duplicate"])
    duplicates = g.ids(ids).select(oid, F.lit(1).alias("line"))
    add("order_lines", "duplicate",
        duplicates.select(*_line_columns(g, oid, F.col("line"), g.order_day(oid), None)), len(ids))
    ids = g.sample("bad.lines.orphan", sizes["orders"], kinds["order_lines"]["references:product_code"])
    orphan_lines = g.ids(ids)
    orphan_lines = orphan_lines.select(oid, (g.lines_in_order(oid) + 2).alias("line"), "k")
    add("order_lines", "references:product_code",
        orphan_lines.select(*_line_columns(g, oid, F.col("line"), g.order_day(oid), None), "k")
        .withColumn("product_code", F.format_string("S99_%04d", F.col("k") + 1)).drop("k"), len(ids))
    return frames, counts


def _bad_click_lines(g: _Gen) -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    """(line, event_date, ingest_date) of the malformed and unparseable click events."""
    rng = random.Random(f"{g.seed}:bad.clicks")
    day = (g.as_of - dt.timedelta(days=1)).isoformat()

    def event(event_time: str) -> str:
        values = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "event_type": "page_view",
            "event_time": event_time,
            "session_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "customer_number": None,
            "product_code": None,
            "page_url": _LANDING_PAGES[0],
            "referrer": None,
            "user_agent": _USER_AGENTS[0],
        }
        return json.dumps(values, separators=(",", ":"))

    good_time = f"{day}T12:00:00.000+00:00"
    malformed = [event(good_time)[:60], event(good_time)[:-1], "<html><body>502 Bad Gateway</body></html>"]
    unparseable = [event("2024-13-45T99:00:00Z"), event("yesterday")]
    lines = [(line, day, day) for line in malformed + unparseable]
    return lines, {"malformed_json": len(malformed), "invalid_event_time": len(unparseable)}


def _duplicate_click_lines(g: _Gen, clicks: DataFrame, count: int) -> list[tuple[str, str, str]]:
    """(line, event_date, ingest_date) of ``count`` valid click lines of the ingest date before
    ``as_of`` (fewer if it has fewer), picked by the hash of the line: copies to add."""
    day = (g.as_of - dt.timedelta(days=1)).isoformat()
    picked = clicks.filter(F.col(INGEST_DATE) == day).orderBy(F.xxhash64("value")).limit(count).collect()
    return [(r["value"], r[RAW_EVENT_DATE], r[INGEST_DATE]) for r in picked]


# --- click events -------------------------------------------------------------------------


def _uuid(g: _Gen, salt: str, *cols: Column) -> Column:
    """A version-4 UUID string from two hashes."""
    a = F.lower(F.lpad(F.hex(g.hash(salt + ".a", *cols)), 16, "0"))
    b = F.lower(F.lpad(F.hex(g.hash(salt + ".b", *cols)), 16, "0"))
    return F.concat(
        F.substring(a, 1, 8), F.lit("-"), F.substring(a, 9, 4), F.lit("-4"), F.substring(a, 14, 3), F.lit("-"),
        g.pick(["8", "9", "a", "b"], salt + ".v", *cols), F.substring(b, 2, 3), F.lit("-"), F.substring(b, 5, 12),
    )


def _event(event_type: str, product: Column | None, page: Column) -> Column:
    return F.struct(
        F.lit(event_type).alias("event_type"),
        (product if product is not None else F.lit(None).cast("string")).alias("product_code"),
        page.alias("page_url"),
    )


#: Event counts of a session, in funnel order.
_EVENT_COUNTS = ("page_views", "views", "adds", "removes", "checkouts", "purchases")


def _sessions(g: _Gen) -> DataFrame:
    """One row per click session: its draws and how many events of each kind it has (the
    producer's funnel), in stages so that no count's expression is copied into the next."""
    s = F.col("id")
    f = _FUNNEL
    start_day = F.lit(g.as_of_day - CLICK_DAYS) + g.below(CLICK_DAYS, "click.day", s)
    start_ms = (start_day * _DAY + g.below(_DAY, "click.second", s)) * 1000 + g.below(1000, "click.ms", s)
    draws = g.range(0, g.sizes["click_sessions"]).select(
        s.alias("s"),
        (1 + g.below(3, "click.pv", s)).cast("int").alias("page_views"),
        F.when(g.chance(f["views_products"], "click.views?", s), 1 + g.below(3, "click.views", s))
        .otherwise(0).cast("int").alias("views"),
        g.chance(f["adds_to_cart"], "click.adds?", s).alias("_adds"),
        g.chance(f["adds_another_viewed"], "click.add2", s).alias("_add2"),
        g.chance(f["adds_another_viewed"], "click.add3", s).alias("_add3"),
        g.chance(f["removes_from_cart"], "click.remove?", s).alias("_removes"),
        g.chance(f["signed_in"], "click.signed_in?", s).alias("signed_in"),
        g.chance(f["checks_out"], "click.checkout?", s).alias("_checks_out"),
        g.chance(f["purchases"], "click.purchase?", s).alias("_purchases"),
        *[
            g.product_code(g.below(g.sizes["products"], "click.product", s, F.lit(k))).alias(f"code{k}")
            for k in range(3)
        ],
        g.pick(_LANDING_PAGES, "click.landing", s).alias("landing"),
        g.pick(_PRODUCT_LINE_PAGES, "click.line1", s).alias("line1"),
        g.pick(_PRODUCT_LINE_PAGES, "click.line2", s).alias("line2"),
        _uuid(g, "click.session", s).alias("session_id"),
        g.customer_number("click.customer", s).alias("_customer"),
        F.when(~g.chance(f["no_user_agent"], "click.no_ua?", s), g.pick(_USER_AGENTS, "click.ua", s)).alias(
            "user_agent"
        ),
        F.when(~g.chance(f["direct_visit"], "click.direct?", s), g.pick(_EXTERNAL_REFERRERS, "click.ref", s))
        .alias("entry_referrer"),
        start_ms.alias("start_ms"),
        # A pause of 31..120 minutes before event `pause_at` (1-based position > 1) splits the
        # session for a 30-minute sessionization gap.
        g.chance(f["long_pause"], "click.pause?", s).alias("_pauses"),
        ((31 + g.below(90, "click.pause", s)) * 60_000).alias("_pause_ms"),
        g.below(1 << 30, "click.pause_at", s).alias("_pause_draw"),
    )
    views = F.col("views")
    with_adds = draws.select(
        "*",
        F.when(
            (views > 0) & F.col("_adds"),
            1 + ((views >= 2) & F.col("_add2")).cast("int") + ((views >= 3) & F.col("_add3")).cast("int"),
        ).otherwise(0).alias("adds"),
        F.when(F.col("signed_in"), F.col("_customer")).alias("customer_number"),
    )
    adds = F.col("adds")
    with_cart = with_adds.select(
        "*",
        ((adds > 1) & F.col("_removes")).cast("int").alias("removes"),
        (F.col("signed_in") & (adds > 0) & F.col("_checks_out")).cast("int").alias("checkouts"),
    )
    with_purchases = with_cart.select(
        "*",
        F.when((F.col("checkouts") > 0) & F.col("_purchases"), adds - F.col("removes")).otherwise(0)
        .cast("int").alias("purchases"),
    )
    total = sum((F.col(c) for c in _EVENT_COUNTS[1:]), F.col(_EVENT_COUNTS[0]))
    with_total = with_purchases.select("*", total.alias("total"))
    total = F.col("total")
    return with_total.select(
        "*",
        F.when((total >= 2) & F.col("_pauses"), F.col("_pause_ms")).otherwise(0).alias("pause_ms"),
        (2 + F.pmod(F.col("_pause_draw"), F.greatest(total - 1, F.lit(1)))).alias("pause_at"),
    )


def _click_lines(g: _Gen) -> DataFrame:
    """One row per click event: ``value`` (the JSON line), ``event_date``, ``ingest_date``
    (both ``YYYY-MM-DD`` strings).

    Built in stages (session draws, the session's event list, one row per event, the
    JSON), each selecting the previous stage's columns by name, so that no expression is
    copied into the next (it keeps Spark's generated code small).
    """
    draws = _sessions(g)
    codes = [F.col(f"code{k}") for k in range(3)]
    product_pages = [F.concat(F.lit(f"{_SITE}/products/"), code) for code in codes]
    page_views = [_event("page_view", None, F.col(name)) for name in ("landing", "line1", "line2")]
    last_added = F.element_at(F.array(*codes), F.greatest(F.col("adds"), F.lit(1)))
    events = F.concat(
        F.slice(F.array(*page_views), 1, F.col("page_views")),
        F.slice(F.array(*[_event("product_view", c, p) for c, p in zip(codes, product_pages, strict=True)]), 1, F.col("views")),
        F.slice(F.array(*[_event("add_to_cart", c, p) for c, p in zip(codes, product_pages, strict=True)]), 1, F.col("adds")),
        F.slice(F.array(_event("remove_from_cart", last_added, F.lit(_CART_URL))), 1, F.col("removes")),
        F.slice(F.array(_event("checkout", None, F.lit(_CHECKOUT_URL))), 1, F.col("checkouts")),
        F.slice(F.array(*[_event("purchase", c, F.lit(_CONFIRMATION_URL)) for c in codes]), 1, F.col("purchases")),
    )
    sessions = draws.select(
        "s", "session_id", "customer_number", "user_agent", "entry_referrer", "start_ms", "pause_ms", "pause_at",
        events.alias("events"),
    )

    # posexplode_outer: with posexplode, Spark infers a filter size(events) > 0 and pushes
    # the whole events expression down into it (every session has at least one event).
    exploded = sessions.select("*", F.posexplode_outer("events").alias("pos", "e"))
    pos = F.col("pos")
    current = F.col("e")
    earlier_pages = F.filter(F.slice(F.col("events"), 1, pos), lambda x: x["page_url"] != current["page_url"])
    ms = (
        F.col("start_ms")
        + pos * 23_000
        + g.below(20_000, "click.step", F.col("s"), pos)
        + F.when(pos + 1 >= F.col("pause_at"), F.col("pause_ms")).otherwise(0)
    )
    events_df = exploded.select(
        _uuid(g, "click.event", F.col("s"), pos).alias("event_id"),
        current["event_type"].alias("event_type"),
        ms.alias("ms"),
        "session_id",
        "customer_number",
        current["product_code"].alias("product_code"),
        current["page_url"].alias("page_url"),
        F.coalesce(F.get(earlier_pages, F.size(earlier_pages) - 1)["page_url"], F.col("entry_referrer"))
        .alias("referrer"),
        "user_agent",
    )

    day_ms = _DAY * 1000
    timed = events_df.select("*", F.floor(F.col("ms") / day_ms).alias("day"))
    of_day = F.col("ms") - F.col("day") * day_ms

    def two(value: Column) -> Column:
        return F.lpad(value.cast("string"), 2, "0")

    dated = timed.select("*", _date(F.col("day")).cast("string").alias(RAW_EVENT_DATE))
    event_time = F.concat(
        F.col(RAW_EVENT_DATE), F.lit("T"),
        two(F.floor(of_day / 3_600_000)), F.lit(":"),
        two(F.floor(of_day / 60_000) % 60), F.lit(":"),
        two(F.floor(of_day / 1000) % 60), F.lit("."),
        F.lpad((of_day % 1000).cast("string"), 3, "0"), F.lit("+00:00"),
    )
    record = F.struct(*[event_time.alias(c) if c == "event_time" else F.col(c) for c in _CLICK_COLUMNS])
    return dated.select(
        F.to_json(record, {"ignoreNullFields": "false"}).alias("value"),
        F.col(RAW_EVENT_DATE),
        F.col(RAW_EVENT_DATE).alias(INGEST_DATE),
    )


def _sum_of(totals: DataFrame) -> int:
    """The one value of a single-column aggregate without grouping (one row), 0 when null."""
    row = totals.first()
    assert row is not None  # an aggregate without grouping has exactly one row
    return int(row[0] or 0)


def _click_count(g: _Gen) -> int:
    return _sum_of(_sessions(g).agg(F.sum("total")))


def clickstream_path(raw_root: str) -> str:
    """Return ``<raw_root>/clickstream/`` (where Firehose delivers the click events).

    Raises:
        ValueError: ``raw_root`` is empty.
    """
    raw_table_path(raw_root, "clickstream")  # same check of raw_root
    return f"{raw_root.rstrip('/')}/{RAW_CLICKSTREAM_PREFIX}/"


# --- writing --------------------------------------------------------------------------------


def _typed(df: DataFrame, declaration: Mapping[str, Any], extra: Sequence[str] = ()) -> DataFrame:
    """The declared columns in declared order and types (plus ``extra`` columns as they are)."""
    return df.select(
        *[F.col(c["name"]).cast(spark_type(c["type"], c["name"])).alias(c["name"]) for c in declaration["columns"]],
        *extra,
    )


def _raw_frame(
    g: _Gen, df: DataFrame, table: str, run_id: str, extracted_at: dt.datetime, drift: Sequence[str]
) -> DataFrame:
    """Shape ``df`` as the extract writes it (via :func:`extract.conform`), then apply ``drift``."""
    as_of = g.as_of
    declaration = load_source_declaration(table)
    conformed = conform(_typed(df, declaration), declaration, as_of, run_id, extracted_at).df
    if table == "customers" and "rename" in drift:
        conformed = conformed.withColumnRenamed("phone", "phone_number")
    if table == "order_lines" and "retype" in drift:
        conformed = conformed.select(
            *[F.col(c).cast(DoubleType()).alias(c) if c == "quantity_ordered" else F.col(c) for c in conformed.columns]
        )
    if table == "products" and "add" in drift:
        declared = [c["name"] for c in declaration["columns"]]
        weight = F.lit(0.05) + g.below(5000, "product.weight", F.col("product_code")) / 1000.0
        conformed = conformed.select(
            *declared, weight.alias("weight_kg"), *[c for c in conformed.columns if c not in declared]
        )
    return conformed


def _write_tables(raw_root: str, frames: Mapping[str, DataFrame]) -> None:
    """Write raw-shaped frames as the extract does, but replacing only the partitions written
    (also for incremental tables, so that a rerun with the same run id is idempotent)."""
    for table, df in frames.items():
        plan = plan_for(load_source_declaration(table))
        writer = df.write.mode("overwrite")
        for key, value in write_options(plan).items():
            writer = writer.option(key, value)
        writer.partitionBy(*partition_columns(plan)).parquet(raw_table_path(raw_root, table))


def _line_count(g: _Gen, orders: DataFrame) -> int:
    """How many order lines the orders ``orders`` (column ``id``) have."""
    return _sum_of(orders.agg(F.sum(g.lines_in_order(F.col("id")))))


def _extracted_at(as_of: dt.date, increment: int) -> dt.datetime:
    start = dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=dt.UTC)
    return start + dt.timedelta(seconds=_EXTRACT_SECONDS + increment * _INCREMENT_SECONDS)


def generate(
    spark: SparkSession,
    raw_root: str,
    scale: float = 1.0,
    seed: int = 7,
    as_of: dt.date = DEFAULT_AS_OF,
    bad_rows: bool = False,
    drift: Sequence[str] = (),
    run_id: str | None = None,
) -> Manifest:
    """Write every source table and the click events of one day to the raw zone.

    See the module docstring for the layout, sizes, bad rows and drift.

    Args:
        spark: the session (any time zone; nothing depends on it).
        raw_root: the raw zone root (local path, ``file:``, ``s3://``...).
        scale: size factor, > 0 (1 is a few MB; counts grow linearly, see :func:`table_sizes`).
        seed: 0 .. 4294967295; the same seed, scale and as_of give the same rows.
        as_of: the ``ingest_date`` written; orders span the 2 years before it, click
            events the 14 days before it, and every ``updated_at`` is before its 01:00 UTC.
        bad_rows: add the bad rows of :data:`BAD_ROW_KINDS`.
        drift: drift kinds from :data:`DRIFT_KINDS` to apply to the raw tables.
        run_id: ``_run_id`` and the incremental tables' ``run_id`` partition; default
            ``gen-<as_of as YYYYMMDD>-s<seed>``.

    Returns:
        :class:`Manifest` of what was written.

    Raises:
        ValueError: a bad argument (scale not > 0, seed not an int in range, as_of not a
            date, unknown drift kind, empty raw_root, run_id not a directory-safe name);
            nothing is written.
    """
    _check_arguments(raw_root, scale, seed, as_of)
    drift = _check_drift(drift)
    if not isinstance(bad_rows, bool):
        raise ValueError(f"bad_rows must be True or False; got {bad_rows!r}.")
    if run_id is None:
        run_id = f"gen-{as_of:%Y%m%d}-s{seed}"
    extracted_at = _extracted_at(as_of, 0)
    g = _Gen(spark, scale, seed, as_of)

    tables: dict[str, DataFrame] = {
        "customers": _customers(g, g.range(0, g.sizes["customers"])),
        "employees": _employees(g),
        "offices": _offices(g),
        "order_lines": _order_lines(g, g.range(0, g.sizes["orders"])),
        "orders": _orders(g, g.range(0, g.sizes["orders"])),
        "payments": _payments(g, g.range(0, g.sizes["payments"])),
        "product_lines": _product_lines(g),
        "products": _products(g),
    }
    bad_counts: dict[str, dict[str, int]] = {}
    click_bad: list[tuple[str, str, str]] = []
    if bad_rows:
        extra, bad_counts = _bad_source_rows(g)
        for table, frames in extra.items():
            for frame in frames:
                tables[table] = tables[table].unionByName(frame)
        click_bad, counts = _bad_click_lines(g)
        bad_counts[CLICKSTREAM_DATASET] = counts
    assert set(tables) == set(SOURCE_TABLES)

    # Conform everything first: a bad run_id fails before anything is written.
    raw = {t: _raw_frame(g, df, t, run_id, extracted_at, drift) for t, df in tables.items()}
    _write_tables(raw_root, raw)
    sizes = g.sizes
    clean = {
        **{t: sizes[t] for t in ("customers", "employees", "offices", "orders", "payments", "product_lines", "products")},
        "order_lines": _line_count(g, g.range(0, sizes["orders"])),
    }
    rows = {t: clean[t] + sum(bad_counts.get(t, {}).values()) for t in SOURCE_TABLES}

    clicks = _click_lines(g)
    if bad_rows:
        copies = _duplicate_click_lines(g, clicks, BAD_ROW_KINDS[CLICKSTREAM_DATASET]["duplicate"])
        click_bad += copies
        bad_counts[CLICKSTREAM_DATASET]["duplicate"] = len(copies)
    if click_bad:
        bad_lines = g.rows({
            "value": ("string", [line for line, _, _ in click_bad]),
            RAW_EVENT_DATE: ("string", [event_date for _, event_date, _ in click_bad]),
            INGEST_DATE: ("string", [ingest_date for _, _, ingest_date in click_bad]),
        })
        clicks = clicks.unionByName(bad_lines.drop("_k"))
    (
        clicks.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .option("compression", "gzip")
        .partitionBy(RAW_EVENT_DATE, INGEST_DATE)
        .text(clickstream_path(raw_root))
    )
    rows[CLICKSTREAM_DATASET] = _click_count(g) + len(click_bad)
    return Manifest(
        as_of=as_of, run_id=run_id, seed=seed, scale=float(scale), rows=dict(sorted(rows.items())),
        bad_rows=bad_counts, drift=drift, extracted_at=extracted_at,
    )


def generate_increment(
    spark: SparkSession,
    raw_root: str,
    scale: float = 1.0,
    seed: int = 7,
    as_of: dt.date = DEFAULT_AS_OF,
    run_id: str | None = None,
    increment: int = 1,
) -> Manifest:
    """Write a later extract of the incremental tables of a :func:`generate` run (same
    ``scale``, ``seed`` and ``as_of``) as a new ``run_id`` partition of ``ingest_date=as_of``.

    Extract ``increment`` k (1..11) happens at ``as_of`` 01:00 UTC + 2k hours; its rows were
    updated in the 2 hours before:

    * ``customers``: ~5% of the customers (at least 1) with a new phone, address
      and credit limit (name, contact and sales rep unchanged);
    * ``orders``: ~1% more orders (at least 1), placed on ``as_of``, numbered after the
      base orders and those of earlier increments (``In Process`` or ``On Hold``), and
      their ``order_lines``;
    * ``payments``: ~1% more payments (at least 1), dated ``as_of``.

    Snapshot tables and click events are not written.

    Args:
        spark, raw_root, scale, seed, as_of: those of the :func:`generate` call it follows.
        run_id: the increment's run id; default ``gen-<as_of as YYYYMMDD>-s<seed>-inc<increment>``.
        increment: which extract of the day (1 for the first after :func:`generate`); the
            changed customers and new row numbers depend on it.

    Returns:
        :class:`Manifest` (rows of the 4 incremental tables, no bad rows).

    Raises:
        ValueError: a bad argument (see :func:`generate`), or ``increment`` not in 1..11.
    """
    _check_arguments(raw_root, scale, seed, as_of)
    if isinstance(increment, bool) or not isinstance(increment, int) or not 1 <= increment <= MAX_INCREMENT:
        raise ValueError(f"increment must be an integer from 1 to {MAX_INCREMENT}; got {increment!r}.")
    if run_id is None:
        run_id = f"gen-{as_of:%Y%m%d}-s{seed}-inc{increment}"
    g = _Gen(spark, scale, seed, as_of)
    extracted_at = _extracted_at(as_of, increment)
    window_start = g.extract_second + (increment - 1) * _INCREMENT_SECONDS
    salt = f"inc{increment}"

    def updated(name: str, col: Column) -> Column:
        return F.lit(window_start + 1) + g.below(_INCREMENT_SECONDS - 1, f"{salt}.{name}.updated", col)

    cid = F.col("id")
    n_customers = g.sizes["customers"]
    always = g.sample(f"{salt}.changed", n_customers, 1)[0]
    changed = g.range(0, n_customers).filter(g.chance(0.05, f"{salt}.changed?", cid) | (cid == always))
    new_orders = max(1, round(g.sizes["orders"] * 0.01))
    new_payments = max(1, round(g.sizes["payments"] * 0.01))
    first_order = g.sizes["orders"] + (increment - 1) * new_orders
    first_payment = g.sizes["payments"] + (increment - 1) * new_payments
    today = F.lit(g.as_of_day)
    order_ids = g.range(first_order, first_order + new_orders)
    tables = {
        "customers": _customers(g, changed, salt, updated("customer", cid)),
        "order_lines": _order_lines(g, order_ids, today, updated("order", cid)),
        "orders": _orders(g, order_ids, today, updated("order", cid)),
        "payments": _payments(g, g.range(first_payment, first_payment + new_payments), today,
                              updated("payment", cid)),
    }
    raw = {t: _raw_frame(g, df, t, run_id, extracted_at, ()) for t, df in tables.items()}
    _write_tables(raw_root, raw)
    rows = {
        "customers": changed.count(),
        "order_lines": _line_count(g, order_ids),
        "orders": new_orders,
        "payments": new_payments,
    }
    return Manifest(
        as_of=as_of, run_id=run_id, seed=seed, scale=float(scale), rows=dict(sorted(rows.items())),
        extracted_at=extracted_at,
    )


__all__ = [
    "BAD_ROW_KINDS",
    "CLICKSTREAM_DATASET",
    "DEFAULT_AS_OF",
    "DRIFT_KINDS",
    "Manifest",
    "clickstream_path",
    "generate",
    "generate_increment",
    "table_sizes",
]
