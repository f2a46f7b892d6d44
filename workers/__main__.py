"""`python -m workers ARGS`: Celery's command line, with per-process metrics files set up first.

A worker's jobs run in pool processes; prometheus_client adds their metrics up through files in
`PROMETHEUS_MULTIPROC_DIR`, which must be set before prometheus_client is first imported.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def metrics_directory() -> Path:
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        directory = Path(configured)
    else:
        data_dir = Path(os.environ.get("LMS_DATA_DIR") or ".lms-data").resolve()
        directory = data_dir / "metrics" / f"worker-{os.getpid()}"
    # A previous run's files would add its counts to ours.
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def main() -> None:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_directory())
    from celery.__main__ import main as celery_main

    sys.argv[0] = "celery"
    celery_main()


if __name__ == "__main__":
    main()
