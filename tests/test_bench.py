"""The benchmark still runs (tiny counts; its figures are read, never asserted on)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("script", "arguments", "expected"),
    [
        ("bench/backends.py", ["--calls", "2", "--rounds", "2"], {"loop_lag_p99_ms", "overhead_ms_1024"}),
        (
            "bench/engine.py",
            ["--turns", "20", "--inflight", "40", "--latency", "0.5"],
            {
                "turns_per_s_sqlite",
                "turns_per_s_postgres",
                "overhead_p99_ms",
                "rss_mb_1000_inflight",
                "loop_lag_p99_ms",
            },
        ),
        (
            "bench/clients.py",
            ["--requests", "3", "--idle", "0.1"],
            {"httpx_as_configured", "aiohttp_kept_60s"},
        ),
        (
            "bench/platform.py",
            [
                "--chats",
                "3",
                "--slow",
                "1",
                "--group",
                "2",
                "--busy",
                "2",
                "--quiet",
                "2",
                "--channels",
                "2",
                "--steady",
                "1",
            ],
            {"telegram", "discord"},
        ),
    ],
)
def test_benchmark_prints_its_figures(script: str, arguments: list[str], expected: set[str]) -> None:
    done = subprocess.run(
        [sys.executable, script, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert expected <= set(figures)
