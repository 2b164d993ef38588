"""Imported first by the fork server the intake's reader processes are forked from (worker._context), never by
the intake itself: polars sizes its thread pool from POLARS_MAX_THREADS when it is imported, and the fork
server imports polars (with the readers) before any worker exists. A reader's frames are one file's: a polars
thread pool per worker (one thread per core, in each of the readers and in the parent that checks) only adds
threads that wait on each other."""

from __future__ import annotations

import os

WORKER_ENV = {"POLARS_MAX_THREADS": "1"}
os.environ.update(WORKER_ENV)
