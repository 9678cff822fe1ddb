"""Process lifecycle helpers: exit when the parent process (the Jupyter server) dies."""

from __future__ import annotations

import logging
import os
import signal
import threading

log = logging.getLogger(__name__)


def exit_with_parent(poll_seconds: float = 1.0) -> threading.Thread:
    """Watch the parent process and stop this one (SIGTERM, graceful) when it goes away.

    When a parent dies its children are re-parented, so a changed ``os.getppid()`` is the
    portable signal.
    """
    parent = os.getppid()

    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(poll_seconds):
            if os.getppid() != parent:
                log.info("parent process %d is gone, shutting down", parent)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread
