"""Helpers shared by the twin's tests (not a test module: pytest collects ``test_*.py`` only)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

GLUE_SCRIPTS = Path(__file__).resolve().parents[2]
AWSGLUE = GLUE_SCRIPTS / "local" / "twin" / "awsglue"


def load_awsglue(*submodules: str) -> ModuleType:
    """Import the twin's stand-in as ``awsglue`` (without putting local/twin on sys.path) and the
    given submodules of it; return the package.

    Raises:
        AssertionError: another ``awsglue`` was imported first.
    """
    if "awsglue" not in sys.modules:
        spec = importlib.util.spec_from_file_location("awsglue", AWSGLUE / "__init__.py", submodule_search_locations=[str(AWSGLUE)])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["awsglue"] = module
        spec.loader.exec_module(module)
    package = sys.modules["awsglue"]
    assert package.__file__ is not None and Path(package.__file__).resolve().parent == AWSGLUE.resolve(), "another awsglue is imported"
    for name in submodules:
        importlib.import_module(f"awsglue.{name}")
    return package


def raw_lines(result: dict[str, Any], step: str) -> list[str]:
    """The access-log lines a scenario step wrote (``result["offsets"][step]`` into ``result["log"]``)."""
    start, end = result["offsets"][step]
    log: bytes = result["log"]
    return log[start:end].decode("utf-8").splitlines()


def lines(result: dict[str, Any], step: str) -> list[dict[str, str]]:
    """The access-log records a scenario step wrote."""
    return [json.loads(line) for line in raw_lines(result, step)]


def ok(result: dict[str, Any], step: str) -> Any:
    """The value a scenario step returned, failing with its error if it raised."""
    assert step not in result["errors"], result["errors"][step]
    return result[step]
