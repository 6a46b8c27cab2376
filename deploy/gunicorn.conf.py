"""gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py app:app`.

Metrics across workers: with PROMETHEUS_MULTIPROC_DIR set (an empty folder the app user owns,
e.g. /run/kiemdich/metrics), every worker writes its counts there and /metrics adds them up; the
folder is emptied when gunicorn starts (counts of a previous run would be added again).
"""
import os
import shutil

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Behind nginx: the access log shows the client's address, from the header nginx sets.
access_log_format = '%({x-forwarded-for}i)s %(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
