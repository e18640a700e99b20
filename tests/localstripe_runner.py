"""Run localstripe (a third-party Stripe emulator) on 127.0.0.1 only, with its state in a given folder.

localstripe's own entry point binds every interface and keeps its state in
``/tmp/localstripe.pickle``; this runner binds loopback and redirects the state file.

Usage: ``python tests/localstripe_runner.py PORT STATE_DIR``
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    port, state_dir = int(sys.argv[1]), Path(sys.argv[2])
    state_file = state_dir / "localstripe.pickle"

    def dump_to_disk(store: resources.Store) -> None:
        with state_file.open("wb") as handle:
            pickle.dump(store, handle, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.dump_to_disk = dump_to_disk
    resources.Store.try_load_from_disk = lambda store: None
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
