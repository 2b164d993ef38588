"""A child process for the GX worker (lib/expectations/worker.py): framed pickles over a private pipe, and a
child that dies with the thread that started it. The intake's readers are a ProcessPoolExecutor instead
(lib/intake/worker.py); this stays for the GX worker until it is rewritten."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import subprocess
import sys
from typing import BinaryIO

_HEADER = struct.Struct("<Q")
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the kernel sends SIGKILL to this child when the thread that started it dies."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def start(module: str, **popen: object) -> subprocess.Popen:
    """``python -m module`` with pipes on stdin and stdout, dying with the thread that starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - nothing else runs between fork and exec here
        **popen,
    )


def job_pipes() -> tuple[BinaryIO, BinaryIO]:
    """In a child from ``start``: (jobs in, results out). Anything else the child prints goes where its stderr
    goes, never into the result stream."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return os.fdopen(0, "rb"), out


def send(fh, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_HEADER.pack(len(data)) + data)
    fh.flush()


def _receive_exact(fh, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = fh.read(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def receive(fh) -> object:
    """The next object ``send`` wrote; EOFError when the other side closed (or died)."""
    (n,) = _HEADER.unpack(_receive_exact(fh, _HEADER.size))
    return pickle.loads(_receive_exact(fh, n))  # noqa: S301 - our own child, over a private pipe
