"""Bad input: each malformed config gives exit 2 and one line naming the file and field, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collector.cli import main
from collector.config import Config, load_config

GOOD = """\
database_url: sqlite:///evidence.db
targets:
  - name: prod
    provider: aws
    regions: [eu-west-1]
"""

CASES = {
    "unknown key": (
        GOOD.replace("    regions:", "    bogus: 1\n    regions:"),
        "targets[0].bogus: unknown key",
    ),
    "unknown top-level key": (GOOD + "retries: 3\n", "retries: unknown key"),
    "wrong type": (GOOD + "concurrency: lots\n", "concurrency: Input should be a valid integer"),
    "missing target name": (
        GOOD.replace("  - name: prod\n    provider", "  - provider"),
        "targets[0].name: required",
    ),
    "duplicate target": (
        GOOD + "  - name: prod\n    provider: aws\n",
        "duplicate target name 'prod'",
    ),
    "invalid yaml": ("targets: [\n  name: x\n", "invalid YAML at line"),
    "not a mapping": ("- just\n- a list\n", "expected a mapping of settings at the top level"),
    "bad database url": (
        GOOD.replace("sqlite:///evidence.db", "mysql://db/evidence"),
        "database_url: unsupported",
    ),
    "garbage database url": (
        GOOD.replace("sqlite:///evidence.db", "'::not a url::'"),
        "database_url: not a database",
    ),
    "bad region": (
        GOOD.replace("[eu-west-1]", "[europe]"),
        "targets[0].regions: Value error, 'europe' is not",
    ),
    "unknown provider": (
        GOOD.replace("provider: aws", "provider: azure"),
        "targets[0].provider: unknown provider 'azure'; expected one of aws, gcp, kubernetes",
    ),
    "no targets": (
        "database_url: sqlite:///x.db\ntargets: []\n",
        "targets: List should have at least 1 item",
    ),
    "bad role arn": (
        GOOD + "    assume_role_arn: role/Reader\n",
        "targets[0].assume_role_arn: expected an IAM role ARN",
    ),
    "bad kind pattern": (
        GOOD + "    kinds: [aws.nothing.*]\n",
        "targets[0].kinds: 'aws.nothing.*' matches no aws evidence kind",
    ),
    "bad cron": (GOOD + "    schedule: every hour\n", "targets[0].schedule: not a 5-field cron"),
    "bad target retention": (
        GOOD + "  - name: dev\n    provider: aws\n    retention: {keep_days: 0}\n",
        "targets[1].retention.keep_days: Input should be greater than or equal to 1",
    ),
    "empty owner tag keys": (
        GOOD + "policy: {owner_tag_keys: []}\n",
        "policy.owner_tag_keys: List should have at least 1 item",
    ),
    "blank classification level": (
        GOOD + "    policy: {classification_levels: [public, ' ']}\n",
        "targets[0].policy.classification_levels[1]: String should have at least 1 character",
    ),
    "auto on a target": (
        GOOD + "    retention: {keep_days: 30, auto: true}\n",
        "targets[0].retention.auto: auto is global only",
    ),
}


def run_main(*args: str) -> int:
    """Run the console script's entry point in-process; returns its exit code."""
    sys.argv = ["evidence-agent", *args]
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_config_exits_2_naming_the_field(name, tmp_path, capsys):
    text, expected = CASES[name]
    path = tmp_path / "evidence-agent.yaml"
    path.write_text(text)
    assert run_main("collect", "--config", str(path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, f"expected one line, got {err!r}"
    assert err.startswith(f"error: {path}: ")
    assert expected.replace("Value error, ", "") in err
    assert "Traceback" not in err


def test_tag_policy_reaches_the_checks_target_over_global():
    config = Config.model_validate({
        "database_url": "sqlite:///x.db",
        "policy": {"owner_tag_keys": ["Owner", "team"], "classification_levels": ["public", "secret"]},
        "targets": [{"name": "prod", "provider": "aws", "policy": {"classification_tag_keys": ["sensitivity"]}},
                    {"name": "dev", "provider": "aws"}],
    })  # fmt: skip
    prod, dev = (config.policy_for(t) for t in config.targets)
    assert prod.owner_tag_keys == ("Owner", "team") and prod.classification_tag_keys == ("sensitivity",)
    assert prod.classification_levels == ("public", "secret")
    assert dev.classification_tag_keys == ("data-classification", "classification")


def test_unreadable_config_file(tmp_path, capsys):
    for path, expected in (
        (tmp_path / "missing.yaml", "config file not found"),
        (tmp_path, "is a directory"),
    ):
        assert run_main("collect", "--config", str(path)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err and str(path) in err


def test_not_utf8_config_file(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"targets: [\xff\xfe]\n")
    assert run_main("collect", "--config", str(path)) == 2
    assert "cannot read config file" in capsys.readouterr().err


def test_console_script_prints_one_line_and_no_traceback(tmp_path):
    path = tmp_path / "evidence-agent.yaml"
    path.write_text(GOOD.replace("    regions:", "    bogus: 1\n    regions:"))
    proc = subprocess.run(
        [sys.executable, "-c", "from collector.cli import main; main()", "collect", "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {path}: targets[0].bogus: unknown key"
    assert "Traceback" not in proc.stderr + proc.stdout


def test_environment_overrides_database_url_and_names_it_when_bad(tmp_path, monkeypatch):
    path = tmp_path / "evidence-agent.yaml"
    path.write_text(GOOD)
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", "postgresql://u@db.internal/evidence")
    assert load_config(path).database_url == "postgresql+psycopg://u@db.internal/evidence"
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", "oracle://x")
    with pytest.raises(Exception) as info:
        load_config(path)
    assert str(info.value).startswith("EVIDENCE_AGENT_DATABASE_URL: unsupported database")


def test_config_file_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.yaml"
    path.write_text(GOOD)
    monkeypatch.setenv("EVIDENCE_AGENT_CONFIG", str(path))
    cfg = load_config()
    assert [t.name for t in cfg.targets] == ["prod"]


def test_config_digest_ignores_database_url_and_tracks_targets():
    base = {"targets": [{"name": "prod", "provider": "aws"}]}
    a = Config.model_validate(base | {"database_url": "sqlite:///a.db"})
    b = Config.model_validate(base | {"database_url": "postgresql+psycopg://u:secret@h/db"})
    c = Config.model_validate({"targets": [{"name": "prod", "provider": "aws", "regions": ["eu-west-1"]}]})
    assert a.digest() == b.digest() != c.digest()


def test_a_targets_own_retention_overrides_the_global_fields_it_sets(tmp_path, capsys):
    cfg = Config.model_validate({"retention": {"keep_days": 400, "keep_runs_min": 20}, "targets": [
        {"name": "a", "provider": "aws"}, {"name": "b", "provider": "aws", "retention": {"keep_days": 30}},
        {"name": "c", "provider": "aws", "retention": {"keep_days": None}}]})  # fmt: skip
    effective = [(r.keep_days, r.keep_runs_min) for r in map(cfg.retention_for, cfg.targets)]
    assert effective == [(400, 20), (30, 20), (None, 20)], "keep_days: null on a target: never pruned"
    assert sorted(cfg.retention_overrides()) == ["b", "c"]
    path = tmp_path / "evidence-agent.yaml"
    path.write_text(GOOD + "    retention: {keep_runs_min: 0}\n")
    assert run_main("prune", "--config", str(path)) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: targets[0].retention.keep_runs_min: Input should be greater than or equal to 1\n"


def test_bad_at_time_is_a_usage_error(tmp_path, capsys):
    assert run_main("evidence", "--at", "yesterday") == 2
    assert "--at: 'yesterday' is not an RFC 3339 time" in capsys.readouterr().err


def test_read_command_without_database_says_what_to_do(tmp_path, capsys):
    assert run_main("runs") == 2
    assert "no evidence database at evidence.db" in capsys.readouterr().err
    assert not Path("evidence.db").exists(), "a read command must not create a database"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("{name: c, provider: kubernetes, in_cluster: true, context: x}", "in_cluster: true uses the pod's"),
        ("{name: c, provider: kubernetes, chunk_size: 1}", "targets[0].chunk_size: Input should be greater than"),
        ("{name: g, provider: gcp}", "give organization_id, projects, or both"),
        ("{name: g, provider: gcp, projects: [Not_A_Project]}", "targets[0].projects[0]: String should match"),
        ("{name: g, provider: gcp, organization_id: acme}", "targets[0].organization_id: String should match"),
        ("{name: x}", "targets[0].provider: provider is missing"),
    ],
)
def test_kubernetes_and_gcp_targets_are_validated(target, expected, tmp_path, capsys):
    path = tmp_path / "evidence-agent.yaml"
    path.write_text(f"targets:\n  - {target}\n")
    assert run_main("collect", "--config", str(path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err
