"""The local twin's SparkSession: a Glue 5.0 job's Spark, as its template describes it, on this machine.

:func:`twin_spark` starts from the session every local run uses (``local.spark.session_builder``:
Spark 3.5, UTC, the Iceberg extensions and runtime) and adds what the twin stands in for:

* ``s3://`` is :class:`undercurrent.twin.LocalS3FileSystem` (``local/twin/java``): bucket ``b``
  is the directory ``<work>/s3/b``, and every call is appended to the access log
  ``<work>/access/<run_id>.jsonl`` as the S3 requests it stands for, with the job's principal
  (``S3-MODEL.md`` beside this file says which requests, and why);
* the job's own ``--conf`` pairs (:func:`parse_glue_conf`), with the substitutions of
  :data:`SHIMS`: Iceberg's ``GlueCatalog`` becomes ``undercurrent.twin.TwinGlueCatalog`` (a JDBC
  catalog in ``<work>/catalog/iceberg.sqlite`` that records the Glue requests in the same log)
  and ``S3FileIO`` becomes ``HadoopFileIO`` (so Iceberg's files go through the twin's ``s3://``);
* Spark settings for a few rows (``local.spark.SMALL_INPUT_CONF``: no adaptive execution, no
  generated code), which change plans, never rows;
* the jars: the Iceberg runtime, the twin's jar, MySQL Connector/J (the jobs' JDBC reads) and
  sqlite-jdbc (``scripts/python-env.sh`` builds and resolves them, ``UNDERCURRENT_TWIN_JARS``).

The job's ``--conf`` overrides the shared settings (as it overrides Glue's defaults), not the
twin's own: ``spark.jars``, ``spark.sql.catalogImplementation`` (``in-memory``), ``fs.s3.impl``,
the ``undercurrent.twin.*`` Hadoop settings, and the driver JVM's :data:`TWIN_JVM_OPTIONS`, which
are added to its ``spark.driver.extraJavaOptions`` (the job's or the shared one).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from local.spark import (
    DRIVER_JAVA_OPTIONS,
    SHORT_RUN_JAVA_OPTIONS,
    SMALL_INPUT_CONF,
    iceberg_jar,
    resolve_jvm_names_once,
    session_builder,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TWIN_JARS_VARIABLE = "UNDERCURRENT_TWIN_JARS"
_JARS_DIR = Path(__file__).resolve().parents[3] / ".venv" / "jars"
_JAR_PATTERNS = ("undercurrent-twin.jar", "mysql-connector-j-*.jar", "sqlite-jdbc-*.jar")

#: The driver JVM's options in every twin process. Each job run is a fresh JVM (as on Glue) that
#: works on a few hundred rows for well under a minute, so its CPU goes to class loading, Spark's
#: code generation and compiling the JIT's hot methods, not to running them: the client compiler
#: only (C1, no C2 recompilation) and the serial collector took about 40% less CPU per job run on
#: two cores (gold: about 48 s to 27 s) and change no result.
TWIN_JVM_OPTIONS = (*SHORT_RUN_JAVA_OPTIONS, "-XX:+UseSerialGC")

#: Local cores of a twin session (``local[1]``): a job run works on a few hundred rows, where a
#: second task thread adds scheduling and contention, not speed; the two curations still run side
#: by side, one core each. The twin of dev took about 7% less CPU than on two cores each, in the
#: same wall time, with the same rows. How many tasks write is not what the twin checks: the
#: requests it records are per object and prefix, whichever task makes them.
TWIN_CORES = 1

LOCAL_S3_FILE_SYSTEM = "undercurrent.twin.LocalS3FileSystem"
TWIN_GLUE_CATALOG = "undercurrent.twin.TwinGlueCatalog"
HADOOP_FILE_IO = "org.apache.iceberg.hadoop.HadoopFileIO"

#: The twin's only shims in a job's ``--conf``: (Iceberg catalog property, the class the template
#: names) -> the twin's stand-in. Any other ``catalog-impl`` or ``io-impl`` is refused
#: (:class:`TwinConfError`): the twin cannot stand in for it. A catalog shimmed to the twin's
#: Glue catalog also gets ``uri`` = the twin's SQLite catalog, and ``io-impl`` = HadoopFileIO
#: when the template leaves it to GlueCatalog's default (S3FileIO).
SHIMS: dict[tuple[str, str], str] = {
    ("catalog-impl", "org.apache.iceberg.aws.glue.GlueCatalog"): TWIN_GLUE_CATALOG,
    ("io-impl", "org.apache.iceberg.aws.s3.S3FileIO"): HADOOP_FILE_IO,
}

_CATALOG_PROPERTY = re.compile(r"spark\.sql\.catalog\.([^.]+)\.(catalog-impl|io-impl|type)")
_CONF_SEPARATOR = re.compile(r"\s+--conf\s+")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class TwinConfError(ValueError):
    """A job's ``--conf`` names something the twin cannot stand in for."""


def parse_glue_conf(value: str) -> dict[str, str]:
    """The pairs of a Glue job's ``--conf`` argument, ``k1=v1 --conf k2=v2 --conf k3=v3``.

    A value may hold ``=`` and spaces (``-Da=b -Dc=d``); a key may not be empty or hold spaces.
    A repeated key keeps its last value, as ``spark-submit --conf`` does. A leading ``--conf``
    is accepted; an empty value gives no pairs.

    Raises:
        ValueError: a part is not ``key=value``, or two parts are not separated by ``" --conf "``.
    """
    text = value.strip()
    if text.startswith("--conf") and (len(text) == 6 or text[6].isspace()):
        text = text[6:].strip()
    if not text:
        return {}
    pairs: dict[str, str] = {}
    for part in _CONF_SEPARATOR.split(text):
        key, separator, conf_value = part.partition("=")
        if not separator or not key or key != key.strip() or any(c.isspace() for c in key) or key.startswith("-"):
            raise ValueError(f"--conf: {part!r} is not key=value (Glue's --conf is 'k1=v1 --conf k2=v2 ...')")
        if "--conf" in conf_value:
            raise ValueError(f"--conf: {part!r} runs into the next pair: separate pairs with ' --conf '")
        pairs[key] = conf_value.strip()
    return pairs


def catalog_uri(work: Path) -> str:
    """The JDBC uri of the twin's Glue Data Catalog stand-in under ``work``."""
    return f"jdbc:sqlite:{Path(work).resolve() / 'catalog' / 'iceberg.sqlite'}"


def access_log(work: Path, run_id: str) -> Path:
    """The access log of the run ``run_id`` under ``work``."""
    return Path(work).resolve() / "access" / f"{run_id}.jsonl"


def apply_twin_shims(job_conf: Mapping[str, str], work: Path) -> dict[str, str]:
    """``job_conf`` with the substitutions of :data:`SHIMS` (see there).

    A catalog ``type`` other than ``hadoop`` is refused too (Iceberg's ``type=glue`` would load
    the real GlueCatalog).

    Raises:
        TwinConfError: a ``catalog-impl``, ``io-impl`` or ``type`` the twin cannot stand in for.
    """
    conf = dict(job_conf)
    twin_catalogs: list[str] = []
    for key, value in job_conf.items():
        match = _CATALOG_PROPERTY.fullmatch(key)
        if match is None:
            continue
        catalog, prop = match.groups()
        if prop == "type":
            if value.strip() != "hadoop":
                raise TwinConfError(
                    f"{key}={value}: the twin cannot stand in for an Iceberg catalog of type {value!r}; "
                    f"give catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog (or type=hadoop)"
                )
            continue
        shim = SHIMS.get((prop, value.strip()))
        if shim is None:
            known = ", ".join(real for (p, real) in SHIMS if p == prop)
            raise TwinConfError(f"{key}={value}: the twin cannot stand in for {value!r} (its {prop} stand-ins: {known})")
        conf[key] = shim
        if prop == "catalog-impl":
            twin_catalogs.append(catalog)
    for catalog in twin_catalogs:
        conf[f"spark.sql.catalog.{catalog}.uri"] = catalog_uri(work)
        # One SQLite connection per JVM: a job that calls the catalog from several threads (the
        # gold job completes its seven tables side by side, as the Glue Data Catalog API allows)
        # then takes turns; with Iceberg's default pool of two, SQLite's single writer lock
        # failed one of them with SQLITE_BUSY.
        conf[f"spark.sql.catalog.{catalog}.clients"] = "1"
        conf.setdefault(f"spark.sql.catalog.{catalog}.io-impl", HADOOP_FILE_IO)
    return conf


def twin_jars() -> list[Path]:
    """The twin's jars: ``$UNDERCURRENT_TWIN_JARS`` (colon-separated) or those in ``.venv/jars``.

    Raises:
        FileNotFoundError: a jar is missing; ``scripts/python-env.sh`` builds and resolves them.
    """
    listed = os.environ.get(TWIN_JARS_VARIABLE)
    if listed:
        jars = [Path(p) for p in listed.split(":") if p]
    else:
        jars = []
        for pattern in _JAR_PATTERNS:
            found = sorted(_JARS_DIR.glob(pattern))
            jars.append(found[-1] if found else _JARS_DIR / pattern)
    missing = [str(jar) for jar in jars if not jar.is_file()]
    if missing:
        raise FileNotFoundError(
            f"the twin's jars are missing: {', '.join(missing)}; run scripts/pytest.sh once "
            f"(scripts/python-env.sh builds and resolves them) or set {TWIN_JARS_VARIABLE}."
        )
    return jars


def twin_spark(
    work: Path,
    principal: str,
    run_id: str,
    job_conf: Mapping[str, str],
    app_name: str,
    account: str,
    region: str,
    partition: str = "aws",
    cores: int = TWIN_CORES,
) -> SparkSession:
    """Return the SparkSession of one Glue job run in the twin's ``work`` directory.

    Args:
        work: the twin's work directory (buckets in ``s3/``, the catalog in ``catalog/``, the
            access logs in ``access/``; created if missing).
        principal: who the run's requests are recorded for (the job role's ARN).
        run_id: the run (the access log is ``access/<run_id>.jsonl``).
        job_conf: the job's ``--conf`` pairs (:func:`parse_glue_conf`).
        app_name: Spark application name.
        account, region, partition: of the ARNs recorded.
        cores: local cores.

    Raises:
        TwinConfError: ``job_conf`` names a catalog or FileIO the twin cannot stand in for.
        RuntimeError: a SparkContext is already active in this process (stop it first: the
            twin's settings are fixed when the context starts).
    """
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r}: use letters, digits, '.', '_' and '-'")
    work = Path(work).resolve()
    conf = apply_twin_shims(job_conf, work)
    from pyspark import SparkContext

    active = SparkContext._active_spark_context
    if active is not None:
        raise RuntimeError(
            f"twin_spark needs its own SparkContext, but {active.appName!r} is active in this process; "
            f"stop it first (the twin's file system, catalog and jars are fixed when a context starts)"
        )
    s3_root = work / "s3"
    log = access_log(work, run_id)
    for directory in (s3_root, log.parent, work / "catalog"):
        directory.mkdir(parents=True, exist_ok=True)
    jars = [iceberg_jar(), *twin_jars()]
    builder = session_builder(app_name, cores, None, jars)
    for key, value in {**SMALL_INPUT_CONF, **conf}.items():
        builder = builder.config(key, value)
    java_options = [conf.get("spark.driver.extraJavaOptions", DRIVER_JAVA_OPTIONS), *TWIN_JVM_OPTIONS]
    twin = {
        "spark.jars": ",".join(str(jar) for jar in jars),
        "spark.driver.extraJavaOptions": " ".join(java_options).strip(),
        "spark.sql.catalogImplementation": "in-memory",
        "spark.hadoop.fs.s3.impl": LOCAL_S3_FILE_SYSTEM,
        # A new file system for each FileSystem.get: a later session in the same JVM (its
        # work, run and principal) must not get one made with an earlier session's settings.
        "spark.hadoop.fs.s3.impl.disable.cache": "true",
        "spark.hadoop.undercurrent.twin.s3.root": str(s3_root),
        "spark.hadoop.undercurrent.twin.access.log": str(log),
        "spark.hadoop.undercurrent.twin.principal": principal,
        "spark.hadoop.undercurrent.twin.run": run_id,
        "spark.hadoop.undercurrent.twin.partition": partition,
        "spark.hadoop.undercurrent.twin.region": region,
        "spark.hadoop.undercurrent.twin.account": account,
    }
    for key, value in twin.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    resolve_jvm_names_once(session)
    return session
