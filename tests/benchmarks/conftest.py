"""The benchmark scripts import their shared modules (``csv_rows``) by name: ``python
benchmarks/X.py`` puts benchmarks/ first on sys.path. The tests load the scripts by file path, so
benchmarks/ goes on sys.path here: last, so that its scripts (``defense.py``) never shadow a test
package of the same name."""

import sys
from pathlib import Path

BENCHMARKS = str(Path(__file__).resolve().parents[2] / "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.append(BENCHMARKS)
