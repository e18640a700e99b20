"""Run localstripe (a third-party Stripe emulator) on 127.0.0.1 only, with its state in a given folder.

localstripe's own entry point binds every interface and keeps its state in
``/tmp/localstripe.pickle``; this runner binds loopback and redirects the state file.
It also gives every object the same ``created`` second: localstripe lists oldest first
(Stripe: newest first), and pages that go up in ``created`` are what a server cycling
through its pages sends, which the client refuses. Within one second the order is
Stripe's to choose, so localstripe's answers stay valid however slowly the test runs.

Usage: ``python tests/localstripe_runner.py PORT STATE_DIR``
"""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from localstripe import resources, server


class _OneSecond:
    """``time`` for localstripe's objects: the clock stopped at the second the runner started."""

    def __init__(self) -> None:
        self.started = int(time.time())

    def time(self) -> float:
        return float(self.started)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def main() -> None:
    port, state_dir = int(sys.argv[1]), Path(sys.argv[2])
    state_file = state_dir / "localstripe.pickle"

    def dump_to_disk(store: resources.Store) -> None:
        with state_file.open("wb") as handle:
            pickle.dump(store, handle, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.dump_to_disk = dump_to_disk
    resources.Store.try_load_from_disk = lambda store: None
    resources.time = _OneSecond()  # type: ignore[attr-defined]
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
