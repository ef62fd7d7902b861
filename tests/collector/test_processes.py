"""Real `evidence-agent collect` processes: one writer at a time (exit 4); a SIGKILLed run is marked aborted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from ea_testkit.aws import MOTO_BLIND
from ea_testkit.gate import Gate

AGENT = str(Path(sys.executable).with_name("evidence-agent"))


def write_config(path: Path, endpoint: str, db_url: str) -> Path:
    path.write_text(yaml.safe_dump({
        "database_url": db_url,
        "targets": [{"name": "prod", "provider": "aws", "regions": ["eu-west-1"], "endpoint_url": endpoint,
                     "exclude_kinds": MOTO_BLIND}],
    }))  # fmt: skip
    return path


def agent(*args: str) -> subprocess.Popen:
    return subprocess.Popen([AGENT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def holds_encryption_read(method: str, path: str) -> bool:
    return method == "GET" and path.endswith("?encryption")


def wait_until_entered(gate: Gate, proc: subprocess.Popen) -> None:
    if not gate.entered.wait(timeout=60):
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"collect never reached the gate:\n{out}\n{err}")


def pg_lock_released(db_url: str, pid: int) -> None:
    """After SIGKILL the server drops the dead client's session (and its advisory locks) on its own."""
    if not db_url.startswith("postgresql"):
        return
    engine = sa.create_engine(db_url)
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            held = conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")).scalar()
            conn.commit()
            if held == 0:
                break
            time.sleep(0.05)  # polling a condition the server settles, bounded by the deadline
    engine.dispose()


def test_second_concurrent_collect_exits_4_and_first_completes(db_url, sandbox_endpoint, tmp_path):
    with Gate(sandbox_endpoint, holds_encryption_read) as gate:
        config = write_config(tmp_path / "evidence-agent.yaml", gate.url, db_url)
        first = agent("collect", "--config", str(config), "--format", "json")
        wait_until_entered(gate, first)
        second = subprocess.run([AGENT, "collect", "--config", str(config)], capture_output=True, text=True,
                                timeout=120)  # fmt: skip
        gate.release.set()
        out, err = first.communicate(timeout=120)
    assert second.returncode == 4, second.stderr
    assert "another run is already" in second.stderr
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert first.returncode == 0, err
    assert json.loads(out)["run"]["status"] == "complete"


def test_killed_collect_is_marked_aborted_by_the_next(db_url, sandbox_endpoint, tmp_path):
    with Gate(sandbox_endpoint, holds_encryption_read) as gate:
        config = write_config(tmp_path / "evidence-agent.yaml", gate.url, db_url)
        victim = agent("collect", "--config", str(config))
        wait_until_entered(gate, victim)
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=60)
        gate.release.set()
        pg_lock_released(db_url, victim.pid)
        nxt = subprocess.run([AGENT, "collect", "--config", str(config), "--format", "json"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert victim.returncode == -signal.SIGKILL
    assert nxt.returncode == 0, nxt.stderr
    report = json.loads(nxt.stdout)
    assert report["aborted_runs"] == [1]
    runs = subprocess.run([AGENT, "runs", "--config", str(config), "--format", "json"], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    statuses = {r["id"]: r["status"] for r in json.loads(runs.stdout)["runs"]}
    assert statuses == {1: "aborted", 2: "complete"}
    verified = subprocess.run([AGENT, "verify", "--config", str(config)], capture_output=True, text=True,
                              timeout=60)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
