"""Load the Glue job entrypoints (``glue-scripts/jobs/*.py``) as modules, to call their ``run``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

JOBS_DIR = Path(__file__).resolve().parents[1] / "jobs"


def load_job(name: str) -> ModuleType:
    """Import ``glue-scripts/jobs/<name>.py`` (e.g. ``source_raw_to_curated``) without running ``main``.

    Raises:
        FileNotFoundError: no such job script.
    """
    path = JOBS_DIR / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"No Glue job script {path}.")
    spec = importlib.util.spec_from_file_location(f"undercurrent_jobs.{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
