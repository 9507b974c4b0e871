"""Run every benchmark in turn; each prints its table and writes benchmarks/results/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in ("ingest.py", "serving.py", "export_writes.py", "training.py", "quality.py"):
    print(f"\n## {script}\n", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True)
