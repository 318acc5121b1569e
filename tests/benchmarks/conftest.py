"""The benchmark scripts import their shared modules (``csv_rows``) by name: ``python
benchmarks/X.py`` puts benchmarks/ first on sys.path. The tests load the scripts by file path, so
benchmarks/ goes on sys.path here: last, so that its scripts (``defense.py``) never shadow a test
package of the same name."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = str(Path(__file__).resolve().parents[2] / "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.append(BENCHMARKS)


def _load_script(name: str):
    path = Path(BENCHMARKS) / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script():
    """``load_script(name)``: benchmarks/<name>.py as a module (under a name no package
    shadows)."""
    return _load_script
