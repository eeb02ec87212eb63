"""The supervisor's restarts on real processes: a child that keeps ending is restarted with a growing backoff,
then given up; ``network up`` over a supervisor that died ends what it left in its directory, nothing else."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qkdnet.kms.supervisor import (
    MAX_RESTARTS,
    PROCESSES,
    KeyNetwork,
    NetworkError,
    NetworkPlan,
    PlannedLink,
    end_orphans,
    restart_backoff_s,
)
from tests.kms.system import METRO5


def test_a_child_that_keeps_ending_is_restarted_with_backoff_then_given_up(tmp_path: Path) -> None:
    plan = NetworkPlan(scenario=METRO5, nodes=("a",), links=(PlannedLink("a-a", "a", "a"),), saes={})
    network = KeyNetwork(plan, tmp_path)
    (tmp_path / "logs").mkdir()
    network.spawn("node-a", "network", "node", "--config", str(tmp_path / "missing.toml"))  # ends at once
    restarts: list[float] = []
    with pytest.raises(NetworkError) as gave_up:
        while True:
            lines = network.revive()
            restarts += [time.monotonic()] * len(lines)
            assert all(line.startswith("node-a ended (exit code 2); restarted after") for line in lines)
            time.sleep(0.02)
    assert len(restarts) == MAX_RESTARTS
    gaps = [b - a for a, b in itertools.pairwise(restarts)]
    assert all(gap >= restart_backoff_s(i + 1) for i, gap in enumerate(gaps)), gaps
    assert f"node-a ended {MAX_RESTARTS + 1} times" in str(gave_up.value)
    assert "missing.toml" in str(gave_up.value)  # the log's tail says why


def test_up_over_a_dead_supervisor_ends_only_the_processes_it_left_in_its_dir(tmp_path: Path) -> None:
    """What a supervisor that died without its children's following it (not Linux) left: ended, nothing else."""
    here, elsewhere = tmp_path / "net", tmp_path / "other"
    here.mkdir()
    elsewhere.mkdir()
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", "qkdnet"]
    orphan = subprocess.Popen(sleeper, cwd=here)
    stranger = subprocess.Popen(sleeper, cwd=elsewhere)  # a reused pid: a qkdnet process, not of this network
    try:
        (here / PROCESSES).write_text(json.dumps({"node-a": orphan.pid, "link-a-b": stranger.pid, "gone": 1 << 22}))
        assert end_orphans(here, timeout_s=5) == 1
        assert orphan.wait(timeout=5) == -signal.SIGTERM
        assert stranger.poll() is None
    finally:
        for proc in (orphan, stranger):
            proc.kill()
            proc.wait()
