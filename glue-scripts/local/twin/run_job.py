"""Run ONE Glue job run of the local twin, as Glue 5.0 would, in this (fresh) process.

    python glue-scripts/local/twin/run_job.py --spec <spec.json>

The spec is written by the twin from the synthesized templates (the ``AWS::Glue::Job``'s
``DefaultArguments`` resolved and merged with the run's ``Arguments``, its script and
``--extra-py-files`` assets as the cloud assembly holds them)::

    {"work": "<twin work dir>", "jobName": "...", "runId": "...",
     "script": "<cdk.out/asset.<hash>.py or any .py>",
     "extraPyFiles": ["<cdk.out/asset.<hash>> (a directory) or a .zip or a .py", ...],
     "arguments": {"--raw_path": "s3://...", "--conf": "k1=v1 --conf k2=v2",
                   "--job-bookmark-option": "job-bookmark-enable", "--enable-metrics": "", ...},
     "principal": "<the job role's ARN>",
     "connections": {"<name>": {"url", "user", "password", "enforceSsl", "caFile"}},
     "account": "...", "region": "...", "partition": "aws",
     "cores": 1}

``extraPyFiles``, ``connections``, ``partition`` (``aws``) and ``cores`` (1: see
``local.twin.spark.TWIN_CORES``) are optional.

What it does, in order:

1. environment: ``UNDERCURRENT_TWIN_WORK`` (the work dir), ``UNDERCURRENT_TWIN_CONNECTIONS``
   (the spec's connections, written to a private temporary file: they hold passwords),
   ``UNDERCURRENT_TWIN_JOB_NAME``, ``UNDERCURRENT_TWIN_RUN_ID``, ``UNDERCURRENT_TWIN_PRINCIPAL``,
   ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` (the spec's region), ``TZ=UTC``;
2. ``sys.argv`` as Glue builds it: the script path, ``--JOB_ID j_<sha256 of the job name>``,
   ``--JOB_RUN_ID <runId>``, ``--JOB_NAME <jobName>``, then every argument as ``--k v``; an
   argument with an empty value (``--enable-metrics``) is passed as the bare key, as Glue's
   docs describe it ("only specify the key; no value is needed");
3. Python path: the script's directory (as ``python script.py`` has it), then a per-run
   directory exposing only the twin's ``awsglue`` (``local/twin/awsglue``) and ``boto3``
   (``local/twin/stubs/boto3``: a recording CloudWatch client, see there; the hook through which
   the jobs' ``CloudWatchSink`` publishes without AWS), then the extra py files (a directory
   or a ``.zip``, as Glue puts the ``--extra-py-files`` zip; a ``.py`` is linked into the
   per-run directory). The same entries go on ``PYTHONPATH`` before Spark starts, so Python
   workers import them too. ``glue-scripts`` itself is not on the job's path;
4. the Spark session: ``local.twin.spark.twin_spark(work, principal, runId, job_conf, jobName,
   account, region, partition, cores)``, ``job_conf`` being ``--conf`` parsed by
   ``parse_glue_conf``; created BEFORE the script runs, so its ``SparkContext.getOrCreate()``
   gets it;
5. the script runs as ``__main__`` (``runpy.run_path``) in a scratch working directory; its
   stdout passes through, a failure's traceback goes to stderr;
6. ``<work>/runs/<runId>.json`` (written atomically) records the run::

       {"jobName", "runId", "status": "SUCCEEDED" | "FAILED", "error": "<Type>: <message>" | null,
        "startedOn", "completedOn"}   (ISO 8601, UTC)

   and the process exits 0 (SUCCEEDED) or 1 (FAILED); 2 for a bad spec (no record is written)
   or a run id that already has a record.

``--enable-metrics`` (Glue's own job-profiling metrics) is accepted and has no effect: the
twin has no CloudWatch for Glue's metrics; the jobs' own metrics go through the ``boto3``
stand-in to ``<work>/metrics/<runId>.jsonl``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import runpy
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TWIN_DIR = Path(__file__).resolve().parent
GLUE_SCRIPTS = TWIN_DIR.parents[1]
AWSGLUE_DIR = TWIN_DIR / "awsglue"
BOTO3_DIR = TWIN_DIR / "stubs" / "boto3"

REQUIRED_KEYS = ("work", "jobName", "runId", "script", "arguments", "principal", "account", "region")
OPTIONAL_KEYS = ("extraPyFiles", "connections", "partition", "cores")
#: Arguments Glue sets itself ("Internal to AWS Glue. Do not set.").
RESERVED_ARGUMENTS = ("--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")
_ARGUMENT = re.compile(r"^--[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
ERROR_LIMIT = 8000

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"


class SpecError(ValueError):
    """The spec is not a job run the twin can start."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(instant: dt.datetime) -> str:
    return instant.isoformat(timespec="milliseconds")


def load_spec(path: Path) -> dict[str, Any]:
    """Read and validate the spec (see the module docstring); paths are made absolute.

    Raises:
        SpecError: a missing or unknown key, a value of the wrong type, a missing file.
    """
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SpecError(f"Cannot read the spec {path}: {error}") from error
    if not isinstance(spec, dict):
        raise SpecError(f"The spec {path} must be a JSON object.")
    missing = [k for k in REQUIRED_KEYS if k not in spec]
    unknown = sorted(set(spec) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if missing or unknown:
        raise SpecError(
            f"The spec {path}: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else [])
            ) + f" (keys: {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)})."
        )
    for key in ("work", "jobName", "runId", "script", "principal", "account", "region"):
        if not isinstance(spec[key], str) or not spec[key]:
            raise SpecError(f"Spec '{key}' must be a non-empty string; got {spec[key]!r}.")
    if not _RUN_ID.match(spec["runId"]):
        raise SpecError(f"Spec 'runId' must be letters, digits, '_', '.', '-' (it names files); got {spec['runId']!r}.")
    spec.setdefault("partition", "aws")
    spec.setdefault("extraPyFiles", [])
    spec.setdefault("connections", {})
    if "cores" in spec and (not isinstance(spec["cores"], int) or isinstance(spec["cores"], bool) or spec["cores"] < 1):
        raise SpecError(f"Spec 'cores' must be a positive integer; got {spec['cores']!r}.")

    arguments = spec["arguments"]
    if not isinstance(arguments, dict):
        raise SpecError(f"Spec 'arguments' must be an object of '--name': 'value'; got {arguments!r}.")
    for name, value in arguments.items():
        if not _ARGUMENT.match(name) or not isinstance(value, str):
            raise SpecError(f"Spec argument {name!r}: {value!r} must be '--name': 'string value'.")
        if name in RESERVED_ARGUMENTS:
            raise SpecError(f"Spec argument {name} is set by Glue itself (from jobName/runId), not by the job.")

    script = Path(spec["script"]).resolve()
    if not script.is_file():
        raise SpecError(f"Spec 'script' {spec['script']} is not a file.")
    spec["script"] = str(script)
    extra = spec["extraPyFiles"]
    if not isinstance(extra, list):
        raise SpecError(f"Spec 'extraPyFiles' must be a list of paths; got {extra!r}.")
    resolved = []
    for item in extra:
        entry = Path(item).resolve() if isinstance(item, str) and item else None
        if entry is None or not (entry.is_dir() or (entry.is_file() and entry.suffix in (".zip", ".py"))):
            raise SpecError(f"Spec 'extraPyFiles' entry {item!r} must be an existing directory, .zip or .py.")
        resolved.append(str(entry))
    spec["extraPyFiles"] = resolved
    if not isinstance(spec["connections"], dict):
        raise SpecError(f"Spec 'connections' must be an object; got {spec['connections']!r}.")
    spec["work"] = str(Path(spec["work"]).resolve())
    return spec


def job_id(job_name: str) -> str:
    """A stable ``JOB_ID`` for a job name (Glue's are ``j_`` and a hex digest)."""
    return "j_" + hashlib.sha256(job_name.encode("utf-8")).hexdigest()


def glue_argv(script: str, job_name: str, run_id: str, arguments: Mapping[str, str]) -> list[str]:
    """``sys.argv`` as Glue passes it to the script."""
    argv = [script, "--JOB_ID", job_id(job_name), "--JOB_RUN_ID", run_id, "--JOB_NAME", job_name]
    for name, value in arguments.items():
        argv.append(name)
        if value != "":
            argv.append(value)
    return argv


def python_path(stage: Path, script: str, extra_py_files: Sequence[str]) -> list[str]:
    """The job's Python path entries, in order; links ``awsglue``, ``boto3`` and ``.py`` files into ``stage``."""
    (stage / "awsglue").symlink_to(AWSGLUE_DIR, target_is_directory=True)
    (stage / "boto3").symlink_to(BOTO3_DIR, target_is_directory=True)
    entries = [str(Path(script).parent), str(stage)]
    for item in extra_py_files:
        if item.endswith(".py"):
            link = stage / Path(item).name
            if link.exists():
                raise SpecError(f"extraPyFiles {item}: a module named {link.name} is already on the job's path.")
            link.symlink_to(item)
        else:
            entries.append(item)
    return entries


def _error_message(error: BaseException) -> str:
    message = f"{type(error).__name__}: {error}"
    return message if len(message) <= ERROR_LIMIT else message[: ERROR_LIMIT - 3] + "..."


def _write_record(path: Path, record: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(record, out, indent=2, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def run(spec: Mapping[str, Any]) -> int:
    """Run the job of ``spec``; return the exit code (0 SUCCEEDED, 1 FAILED, 2 run id reused)."""
    work = Path(spec["work"])
    record_path = work / "runs" / f"{spec['runId']}.json"
    if record_path.exists():
        print(f"run_job: {record_path} exists: run id {spec['runId']} was used before.", file=sys.stderr)
        return 2
    started = _now()
    private = Path(tempfile.mkdtemp(prefix="undercurrent-twin-run-"))
    stage = private / "python"
    scratch = private / "cwd"
    stage.mkdir()
    scratch.mkdir()
    status, error = FAILED, None
    session = None
    try:
        try:
            work.mkdir(parents=True, exist_ok=True)
            connections_file = private / "connections.json"
            with open(os.open(connections_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
                json.dump(spec["connections"], out)
            entries = python_path(stage, spec["script"], spec["extraPyFiles"])
            os.environ.update(
                {
                    "UNDERCURRENT_TWIN_WORK": str(work),
                    "UNDERCURRENT_TWIN_CONNECTIONS": str(connections_file),
                    "UNDERCURRENT_TWIN_JOB_NAME": spec["jobName"],
                    "UNDERCURRENT_TWIN_RUN_ID": spec["runId"],
                    "UNDERCURRENT_TWIN_PRINCIPAL": spec["principal"],
                    "AWS_REGION": spec["region"],
                    "AWS_DEFAULT_REGION": spec["region"],
                    "TZ": "UTC",
                    "PYTHONPATH": os.pathsep.join(entries + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
                }
            )
            time.tzset()
            argv = glue_argv(spec["script"], spec["jobName"], spec["runId"], spec["arguments"])

            if str(GLUE_SCRIPTS) not in sys.path:
                sys.path.insert(0, str(GLUE_SCRIPTS))
            from local.twin.spark import parse_glue_conf, twin_spark

            # The job sees only what Glue would give it: not glue-scripts, not local/twin.
            def hidden(entry: str) -> bool:
                return not entry or Path(entry).resolve() in (GLUE_SCRIPTS, TWIN_DIR)

            sys.path[:] = entries + [p for p in sys.path if not hidden(p) and p not in entries]
            job_conf = parse_glue_conf(spec["arguments"]["--conf"]) if "--conf" in spec["arguments"] else {}
            os.chdir(scratch)
            session = twin_spark(
                work,
                spec["principal"],
                spec["runId"],
                job_conf,
                spec["jobName"],
                spec["account"],
                spec["region"],
                spec["partition"],
                **({"cores": spec["cores"]} if "cores" in spec else {}),
            )
            # Nor the twin's modules imported to start Spark (Glue has no `local` package).
            for name in [m for m in sys.modules if m == "local" or m.startswith("local.")]:
                del sys.modules[name]
            sys.argv = argv
            runpy.run_path(spec["script"], run_name="__main__")
            status = SUCCEEDED
        except SystemExit as exit_:
            if exit_.code in (None, 0):
                status = SUCCEEDED
            else:
                error = f"SystemExit: {exit_.code}"
                print(f"run_job: the script exited with {exit_.code!r}", file=sys.stderr)
        except BaseException as failure:  # noqa: BLE001 - every failure fails the run, as in Glue
            error = _error_message(failure)
            traceback.print_exc(file=sys.stderr)
        finally:
            sys.stdout.flush()
            if session is not None:
                try:
                    session.stop()
                except Exception as stop_error:  # noqa: BLE001 - the run's outcome is already decided
                    print(f"run_job: stopping Spark failed: {stop_error}", file=sys.stderr)
        record = {
            "jobName": spec["jobName"],
            "runId": spec["runId"],
            "status": status,
            "error": error if status == FAILED else None,
            "startedOn": _iso(started),
            "completedOn": _iso(_now()),
        }
        _write_record(record_path, record)
        print(f"run_job: {spec['jobName']} run {spec['runId']} {status}", file=sys.stderr, flush=True)
        return 0 if status == SUCCEEDED else 1
    finally:
        os.chdir(work if work.is_dir() else "/")
        shutil.rmtree(private, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one Glue job run of the local twin.")
    parser.add_argument("--spec", required=True, type=Path, help="the job run spec (JSON)")
    options = parser.parse_args(argv)
    try:
        spec = load_spec(options.spec)
    except SpecError as error:
        print(f"run_job: {error}", file=sys.stderr)
        return 2
    return run(spec)


if __name__ == "__main__":
    sys.exit(main())
