"""Importing Keras (on TensorFlow) quietly, once, from any thread.

TensorFlow is imported inside ``keras_backend()`` only, never at ``recsys_engine`` import
time, so listing models or opening a page does not pay for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from types import ModuleType

_IMPORT_LOCK = threading.Lock()
#: What TensorFlow's C++ logger writes at import when its oneDNN kernels are on, whatever
#: ``TF_CPP_MIN_LOG_LEVEL`` says (absl is not initialised yet). Other lines are kept.
_IMPORT_NOISE = re.compile(
    r"oneDNN custom operations are on|All log messages before absl::InitializeLog"
)

#: From this catalogue size on, ``keras_backend`` asks for the system allocator. Measured
#: (BENCHMARKS.md): at 27k and 80k items the pool trains as fast or faster and peaks at
#: most 0.3 GiB higher; at 186k it peaks 2.1 GiB higher (over the 6 GiB goal of the
#: shop-sized log) and trains epochs ~20% faster
SYSTEM_ALLOCATOR_ITEMS = 100_000


def keras_backend(catalogue_items: int = 0) -> ModuleType:
    """Import Keras quietly on the TensorFlow backend (first call ~2–3 s).

    ``catalogue_items``: the size of the catalogue the process is about to train on, when
    the caller knows it. From ``SYSTEM_ALLOCATOR_ITEMS`` items on, the process's
    TensorFlow buffers go through the C library's allocator (see below); it takes effect
    only if TensorFlow has not allocated anything in this process yet (a run's own
    process, the CLI), and a value already in the environment wins.

    TensorFlow's oneDNN kernels stay on: they train the models here about 1.3–1.5× faster
    (BENCHMARKS.md). With them on, every buffer of 4 KiB or more comes from oneDNN's pool,
    which never shrinks: each catalogue-sized temporary (initialising a table, the
    optimizer's moments once training ends) stays resident for the life of the process.
    On a 186k-item catalogue that is 2.1 GiB more at the peak of a run (6.33 against 4.22
    GiB with ``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1``, whose freed buffers go back to the
    system), bought with epochs ~20% slower. On smaller catalogues the pool is the better
    choice: ml-latest-small's Two-tower trains ~8% faster with it and peaks 0.3 GiB lower,
    and at 80k items its epochs are ~25% faster for 0.3 GiB more.

    With the kernels on, TensorFlow writes a notice to the process's standard
    error during the import, so the first import runs with file descriptor 2 pointed at a
    temporary file; afterwards every other line of it is written back to stderr. This is
    process-wide: for those seconds, other threads' stderr output is held back too (and
    lost if the process dies during the import). One import at a time (a lock), so a
    second thread never saves the redirected descriptor as the real one.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if catalogue_items >= SYSTEM_ALLOCATOR_ITEMS:
        os.environ.setdefault("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "1")
    if "keras" not in sys.modules:
        with _IMPORT_LOCK:
            if "keras" not in sys.modules:
                with _stderr_filtered():
                    import keras  # noqa: F401
    import keras

    return keras


@contextlib.contextmanager
def _stderr_filtered() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file for the duration, then write its lines
    that are not TensorFlow's import notice back to stderr (also when the body raises).
    Does nothing when stderr is closed or not a file descriptor."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with tempfile.TemporaryFile() as held:
            os.dup2(held.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                held.seek(0)
                kept = [
                    line
                    for line in held.read().splitlines(keepends=True)
                    if not _IMPORT_NOISE.search(line.decode("utf-8", "replace"))
                ]
                if kept:
                    os.write(2, b"".join(kept))
    finally:
        os.close(saved)
