"""gunicorn's settings file (`gunicorn -c config/gunicorn.py config.wsgi:application`): with PROMETHEUS_MULTIPROC_DIR
set, every worker writes django-prometheus's metrics to files in that folder and /metrics merges them; the folder is
emptied when the master starts (yesterday's workers' numbers would count again) and a dead worker's live gauges are
dropped."""

import os
import shutil
from pathlib import Path


def on_starting(server) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # only with multiprocess metrics
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
