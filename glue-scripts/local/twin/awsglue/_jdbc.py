"""``create_dynamic_frame.from_options(connection_type="mysql", ...)`` of the twin: a Glue JDBC read
through Spark's JDBC source and MySQL Connector/J (``com.mysql.cj.jdbc.Driver``).

Supported ``connection_options`` (exactly what ``undercurrent_glue.extract.jdbc_connection_options``
produces; anything else is refused):

* ``useConnectionProperties`` ``"true"`` and ``connectionName``: URL, user, password and SSL
  come from the Glue connection (see :mod:`awsglue._twin`); with ``enforceSsl`` the driver runs
  with ``sslMode=VERIFY_IDENTITY`` against a PKCS12 trust store made at run time from the
  connection's CA file (random password, deleted at exit) and nothing else
  (``fallbackToSystemTrustStore=false``): Glue's docs say JDBC connections that require SSL
  are made "with certificate and host name validation". Without ``enforceSsl``: ``PREFERRED``;
* ``dbtable``: ``table`` or ``database.table``;
* ``hashfield`` (+ ``hashpartitions``, default 7 as in Glue): Glue documents that it "creates a
  query to hash the field value to a partition number and runs the query for all partitions in
  parallel" (non-overlapping queries) but not the SQL; the twin reads ``hashpartitions``
  partitions with the predicates ``COALESCE(MOD(CRC32(`field`), n), 0) = i``, i = 0..n-1, so
  every row (NULLs in partition 0) is read by exactly one of them;
* ``jobBookmarkKeys`` (+ ``jobBookmarkKeysSortOrder`` ``"asc"``, the default): with bookmarks
  enabled (or paused) on the job and a ``transformation_ctx``, only rows whose compound key
  ``(k1, ..., kn)`` is greater than the committed one are read. The read is bounded: the greatest
  key is looked up first (``ORDER BY k1 DESC, ... LIMIT 1``) and rows up to it are read, so
  Spark re-evaluating the DataFrame reads the same rows and the bookmark kept for
  ``Job.commit()`` is exactly the greatest key read. Without a ``transformation_ctx``, or with
  bookmarks disabled, the whole table is read and nothing is recorded.
"""

from __future__ import annotations

import atexit
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._twin import BookmarkStore, load_connection

if TYPE_CHECKING:  # annotations only (the twin imports pyspark where it needs a session)
    from pyspark.sql import DataFrame, SparkSession

DRIVER = "com.mysql.cj.jdbc.Driver"
DEFAULT_HASH_PARTITIONS = 7
MAX_HASH_PARTITIONS = 1000
SUPPORTED_OPTIONS = (
    "useConnectionProperties",
    "connectionName",
    "dbtable",
    "hashfield",
    "hashpartitions",
    "jobBookmarkKeys",
    "jobBookmarkKeysSortOrder",
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,63}$")
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_INTEGRAL = {"tinyint", "smallint", "int", "bigint"}
_QUOTED = {"timestamp", "timestamp_ntz", "date", "string"}


class UnsupportedOptionError(ValueError):
    """A Glue read the twin's ``awsglue`` stand-in does not implement (it is small on purpose)."""


def _quote_identifier(name: str, what: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"{what} must be a plain column or table name (letters, digits, '_', '$'); got {name!r}.")
    return f"`{name}`"


def _table_reference(dbtable: Any) -> str:
    if not isinstance(dbtable, str) or not dbtable:
        raise ValueError(f"connection_options 'dbtable' must be 'table' or 'database.table'; got {dbtable!r}.")
    parts = dbtable.split(".")
    if len(parts) > 2:
        raise ValueError(f"connection_options 'dbtable' must be 'table' or 'database.table'; got {dbtable!r}.")
    return ".".join(_quote_identifier(p, "dbtable") for p in parts)


def _quote_text(text: str) -> str:
    # MySQL's default sql_mode treats backslash as an escape character in string literals.
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def literal(spark_type: str, text: str) -> str:
    """The SQL literal of a bookmark value: a number as is, anything else quoted.

    Args:
        spark_type: the key's Spark type (``DataType.simpleString()``), as read.
        text: the value as MySQL renders it (``CAST(key AS CHAR)``).

    Raises:
        UnsupportedOptionError: a key type the twin does not bookmark (floating point, boolean, binary).
    """
    base = spark_type.split("(", 1)[0]
    if base in _INTEGRAL or base == "decimal":
        if not _NUMBER.match(text):
            raise ValueError(f"Bookmark value {text!r} of a {spark_type} key is not a number.")
        return text
    if base in _QUOTED or base in ("varchar", "char"):
        return _quote_text(text)
    raise UnsupportedOptionError(
        f"jobBookmarkKeys of type {spark_type} are not supported by the twin (use integer, decimal, "
        "date, timestamp or string keys)."
    )


def _tuple(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "(" + ", ".join(items) + ")"


class JdbcRead:
    """A validated ``from_options(connection_type="mysql")`` request."""

    def __init__(self, options: Mapping[str, Any]):
        if not isinstance(options, Mapping):
            raise ValueError(f"connection_options must be a dict; got {type(options).__name__}.")
        unknown = sorted(set(options) - set(SUPPORTED_OPTIONS))
        if unknown:
            raise UnsupportedOptionError(
                f"connection_options {', '.join(unknown)} are not supported by the twin's awsglue stand-in "
                f"(mysql reads take: {', '.join(SUPPORTED_OPTIONS)})."
            )
        use = options.get("useConnectionProperties")
        if not (use is True or (isinstance(use, str) and use.lower() == "true")):
            raise UnsupportedOptionError(
                "The twin reads mysql only with useConnectionProperties 'true' and a connectionName (URL, "
                f"credentials and SSL from the Glue connection); got useConnectionProperties={use!r}."
            )
        name = options.get("connectionName")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"connection_options 'connectionName' must name the job's Glue connection; got {name!r}.")
        self.connection_name = name
        self.dbtable = options.get("dbtable")
        self.table = _table_reference(self.dbtable)

        self.hash_field: str | None = None
        self.hash_partitions: int | None = None
        if "hashfield" in options:
            self.hash_field = _quote_identifier(options["hashfield"], "hashfield")
            raw = options.get("hashpartitions", str(DEFAULT_HASH_PARTITIONS))
            try:
                count = int(str(raw).strip())
            except ValueError:
                count = 0
            if not 1 <= count <= MAX_HASH_PARTITIONS or isinstance(raw, bool):
                raise ValueError(
                    f"connection_options 'hashpartitions' must be a whole number from 1 to {MAX_HASH_PARTITIONS}; got {raw!r}."
                )
            self.hash_partitions = count
        # hashpartitions without hashfield: Glue has nothing to hash and reads in one query.

        keys = options.get("jobBookmarkKeys")
        self.bookmark_keys: tuple[str, ...] = ()
        if keys is not None:
            if isinstance(keys, str) or not isinstance(keys, Sequence) or not keys:
                raise ValueError(f"connection_options 'jobBookmarkKeys' must be a non-empty list of columns; got {keys!r}.")
            for key in keys:
                _quote_identifier(key, "jobBookmarkKeys")
            if len(set(keys)) != len(keys):
                raise ValueError(f"connection_options 'jobBookmarkKeys' repeats a column: {keys!r}.")
            self.bookmark_keys = tuple(keys)
        order = options.get("jobBookmarkKeysSortOrder", "asc")
        if "jobBookmarkKeysSortOrder" in options and keys is None:
            raise ValueError("connection_options 'jobBookmarkKeysSortOrder' needs 'jobBookmarkKeys'.")
        if order != "asc":
            raise UnsupportedOptionError(
                f"jobBookmarkKeysSortOrder {order!r} is not supported by the twin: only 'asc' (keys that only grow)."
            )
        self.sort_order = order


def _connection_properties(glue_context: Any, name: str) -> tuple[str, dict[str, str]]:
    """The JDBC URL and the driver properties of the Glue connection ``name``."""
    connection = load_connection(name)
    url = connection["url"]
    if not url.startswith("jdbc:mysql://"):
        raise UnsupportedOptionError(f"Glue connection '{name}' has URL {url!r}; the twin reads only jdbc:mysql:// URLs.")
    properties = {"driver": DRIVER, "user": connection["user"], "password": connection["password"]}
    enforce = connection.get("enforceSsl", False)
    if enforce is True or (isinstance(enforce, str) and enforce.lower() == "true"):
        ca_file = connection.get("caFile")
        if not isinstance(ca_file, str) or not Path(ca_file).is_file():
            raise ValueError(
                f"Glue connection '{name}' enforces SSL but its caFile {ca_file!r} is not a file; the twin "
                "verifies the server certificate against that CA only."
            )
        store, password = glue_context._trust_store(ca_file)
        properties.update(
            {
                "sslMode": "VERIFY_IDENTITY",
                "trustCertificateKeyStoreUrl": store.as_uri(),
                "trustCertificateKeyStoreType": "PKCS12",
                "trustCertificateKeyStorePassword": password,
                "fallbackToSystemTrustStore": "false",
            }
        )
    else:
        properties["sslMode"] = "PREFERRED"
    return url, properties


class TrustStores:
    """PKCS12 trust stores made from CA files, one per file, in a private temporary directory."""

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._stores: dict[str, tuple[Path, str]] = {}

    def get(self, jvm: Any, ca_file: str) -> tuple[Path, str]:
        """The trust store (path, password) holding every certificate of the PEM file ``ca_file``."""
        key = str(Path(ca_file).resolve())
        if key in self._stores:
            return self._stores[key]
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="undercurrent-twin-truststore-"))
            atexit.register(shutil.rmtree, self._directory, True)
        factory = jvm.java.security.cert.CertificateFactory.getInstance("X.509")
        stream = jvm.java.io.FileInputStream(key)
        try:
            certificates = list(factory.generateCertificates(stream).toArray())
        finally:
            stream.close()
        if not certificates:
            raise ValueError(f"CA file {ca_file} holds no X.509 certificate.")
        password = secrets.token_hex(24)
        # py4j turns a Java String into a Python str; a heap CharBuffer's array stays a char[].
        chars = jvm.java.nio.CharBuffer.allocate(len(password)).put(password).array()
        keystore = jvm.java.security.KeyStore.getInstance("PKCS12")
        keystore.load(None, None)
        for index, certificate in enumerate(certificates):
            keystore.setCertificateEntry(f"ca-{index}", certificate)
        path = self._directory / f"ca-{len(self._stores)}.p12"
        out = jvm.java.io.FileOutputStream(str(path))
        try:
            keystore.store(out, chars)
        finally:
            out.close()
        path.chmod(0o600)
        self._stores[key] = (path, password)
        return path, password


def _log(message: str) -> None:
    print(f"awsglue (twin): {message}", file=sys.stderr, flush=True)


def _bookmark_entry(read: JdbcRead, types: Sequence[str], texts: Sequence[str]) -> dict[str, Any]:
    return {
        "connectionType": "mysql",
        "dbtable": read.dbtable,
        "jobBookmarkKeys": list(read.bookmark_keys),
        "jobBookmarkKeysSortOrder": read.sort_order,
        "values": [{"type": t, "text": x} for t, x in zip(types, texts, strict=False)],
    }


def _check_entry(read: JdbcRead, ctx: str, entry: Mapping[str, Any]) -> None:
    if (
        entry.get("connectionType") != "mysql"
        or entry.get("dbtable") != read.dbtable
        or list(entry.get("jobBookmarkKeys", [])) != list(read.bookmark_keys)
        or entry.get("jobBookmarkKeysSortOrder") != read.sort_order
    ):
        raise ValueError(
            f"The committed bookmark of transformation_ctx '{ctx}' is for {entry.get('dbtable')} keyed by "
            f"{entry.get('jobBookmarkKeys')} ({entry.get('jobBookmarkKeysSortOrder')}), but this read is "
            f"{read.dbtable} keyed by {list(read.bookmark_keys)} ({read.sort_order}); reset the job's bookmark."
        )


def _bookmark_bounds(
    spark: Any, read: JdbcRead, url: str, properties: Mapping[str, str], committed: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any] | None, str]:
    """The WHERE clause of a bookmarked read, the entry to keep for ``Job.commit()``, and a description."""
    keys = [_quote_identifier(k, "jobBookmarkKeys") for k in read.bookmark_keys]
    lower = None
    if committed is not None:
        values = committed["values"]
        lower = f"{_tuple(keys)} > {_tuple([literal(v['type'], v['text']) for v in values])}"
    columns = [f"{k} AS `v{i}`" for i, k in enumerate(keys)] + [f"CAST({k} AS CHAR) AS `t{i}`" for i, k in enumerate(keys)]
    query = f"SELECT {', '.join(columns)} FROM {read.table}"
    if lower:
        query += f" WHERE {lower}"
    query += " ORDER BY " + ", ".join(f"{k} DESC" for k in keys) + " LIMIT 1"
    frame = spark.read.format("jdbc").option("url", url).option("query", query).options(**properties).load()
    rows = frame.collect()
    if not rows:
        # Nothing past the bookmark: read nothing (rows arriving now are read next run); the
        # committed entry stays as it is.
        return "1 = 0", None, "no new rows"
    types = [frame.schema[f"v{i}"].dataType.simpleString() for i in range(len(keys))]
    texts = [rows[0][f"t{i}"] for i in range(len(keys))]
    if any(t is None for t in texts):
        raise ValueError(f"jobBookmarkKeys {list(read.bookmark_keys)} of {read.dbtable} have NULLs; bookmark keys must be set.")
    upper = f"{_tuple(keys)} <= {_tuple([literal(t, x) for t, x in zip(types, texts, strict=True)])}"
    where = f"{lower} AND {upper}" if lower else upper
    return where, _bookmark_entry(read, types, texts), f"after {lower or 'the start'} up to {upper}"


def read_mysql(glue_context: Any, options: Mapping[str, Any], transformation_ctx: str) -> DataFrame:
    """Read a MySQL table as Glue's ``from_options(connection_type="mysql")`` does; return a DataFrame."""
    read = JdbcRead(options)
    spark: SparkSession = glue_context.spark_session
    url, properties = _connection_properties(glue_context, read.connection_name)

    bookmarks: BookmarkStore | None = glue_context._bookmarks
    if not (transformation_ctx and bookmarks is not None and bookmarks.enabled):
        bookmarks = None  # this read is not bookmarked
    where: str | None = None
    entry: dict[str, Any] | None = None
    description = "whole table"
    if bookmarks is not None:
        if not read.bookmark_keys:
            raise UnsupportedOptionError(
                f"Bookmarked read '{transformation_ctx}' of {read.dbtable} has no jobBookmarkKeys: Glue would use the "
                "primary key, which the twin does not; give jobBookmarkKeys (or no transformation_ctx)."
            )
        committed = bookmarks.committed(transformation_ctx)
        if committed is not None:
            _check_entry(read, transformation_ctx, committed)
        where, entry, description = _bookmark_bounds(spark, read, url, properties, committed)

    predicates: list[str] = []
    if read.hash_field is not None:
        assert read.hash_partitions is not None
        n = read.hash_partitions
        hashed = [f"COALESCE(MOD(CRC32({read.hash_field}), {n}), 0) = {i}" for i in range(n)]
        predicates = [f"({where}) AND {h}" for h in hashed] if where else hashed
    elif where:
        predicates = [where]

    if predicates:
        df = spark.read.jdbc(url, read.table, predicates=predicates, properties=dict(properties))
    else:
        df = spark.read.jdbc(url, read.table, properties=dict(properties))
    if bookmarks is not None and entry is not None:
        bookmarks.record(transformation_ctx, entry)
    _log(
        f"mysql {read.dbtable} via connection '{read.connection_name}', {max(len(predicates), 1)} partition(s), "
        + (f"bookmark '{transformation_ctx}' ({bookmarks.option}): {description}" if bookmarks is not None else "no bookmark: whole table")
    )
    return df
