"""gunicorn settings for `make serve`; each can be changed by the environment.

Threaded workers: an upload holds its thread while OpenAI processes the batch
(up to POLL_TIMEOUT), so one worker serves up to GUNICORN_THREADS requests at
once, uploads included.
"""
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# With gthread, timeout is the worker's heartbeat, not a per-request limit: long uploads are fine.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
accesslog = "-"
errorlog = "-"
