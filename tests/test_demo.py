"""`make demo` works, twice in a row, syncs a table equal to the sandbox, and stops the sandbox."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "scripts" / "demo.py"


def test_demo_runs_twice_and_cleans_up(tmp_path):
    env = {
        **os.environ,
        "DEMO_AIRFLOW_HOME": str(tmp_path / "home"),
        "DEMO_OUTPUT": str(tmp_path / "out"),
        "STRIPE_API_KEY": "",
    }
    env.pop("AIRFLOW_HOME", None)
    outputs = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, str(DEMO)], env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout)
        count = int(re.search(r"Customers created in .*: (\d+)", result.stdout).group(1))
        assert count > 10
        assert "Sample:" in result.stdout and "cus_" in result.stdout
        assert "Stopped the sandbox." in result.stdout
        # Change capture: the merged table equals the sandbox's own state after its changes.
        assert re.search(r"Table: (\d+) rows; sandbox: \1 customers; equal: yes", result.stdout)
        assert result.stdout.count("(no row)                 (deleted)") == 3
        assert "moved-0@example.com      moved-0@example.com" in result.stdout
        port = int(re.search(r"sandbox at http://127\.0\.0\.1:(\d+)", result.stdout).group(1))
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, "the sandbox is still listening"
    files = list((tmp_path / "out").rglob("*.jsonl.gz"))
    assert len(files) == 1 and str(files[0]) in outputs[1]
