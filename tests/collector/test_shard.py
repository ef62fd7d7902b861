"""`collect --shard I/N`: every target is collected by exactly one shard; bad shards are usage errors."""

from __future__ import annotations

import hashlib
import json
import random
import string
import sys

import pytest
import sqlalchemy as sa
import yaml

from collector.cli import main
from collector.config import ConfigError
from collector.shard import Shard, parse_shard, shard_of, shard_targets
from ea_testkit.aws import MOTO_BLIND


def random_names(rng: random.Random, count: int) -> list[str]:
    alphabet = string.ascii_letters + string.digits + "_.-"
    names: set[str] = set()
    while len(names) < count:
        first = rng.choice(string.ascii_letters + string.digits)
        names.add(first + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))))
    return sorted(names)


def test_every_target_is_in_exactly_one_shard_for_any_n():
    """Property: for random target sets and shard counts, the shards partition the targets, each pod
    computing its own shard independently (in the configured order), and the split never changes."""
    rng = random.Random(20261127)
    for _ in range(300):
        names = random_names(rng, rng.randint(0, 60))
        rng.shuffle(names)
        count = rng.randint(1, 16)
        shards = [shard_targets(names, Shard(index, count)) for index in range(count)]
        collected = [name for shard in shards for name in shard]
        assert sorted(collected) == sorted(names), (names, count)  # all of them, none twice
        for shard in shards:
            assert shard == [n for n in names if n in set(shard)]  # configured order kept
        assert shards == [shard_targets(list(names), Shard(i, count)) for i in range(count)]  # deterministic


def test_the_hash_is_the_documented_one_and_independent_of_the_other_targets():
    for name in ("prod-aws", "this-cluster", "gcp-org", "a"):
        expected = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % 7
        assert shard_of(name, 7) == expected
        alone = shard_targets([name], Shard(expected, 7))
        crowded = shard_targets(["x", name, "y", *random_names(random.Random(2), 30)], Shard(expected, 7))
        assert alone == [name] and name in crowded  # other targets never move it
    assert all(shard_of(n, 1) == 0 for n in random_names(random.Random(1), 50))


def test_shards_are_roughly_even():
    names = random_names(random.Random(7), 2000)
    sizes = [len(shard_targets(names, Shard(i, 4))) for i in range(4)]
    assert sum(sizes) == 2000 and min(sizes) > 400, sizes


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("4/4", "the index must be between 0 and 3"),
        ("-1/4", "is not INDEX/COUNT"),
        ("1/0", "the shard count must be at least 1"),
        ("0/-2", "is not INDEX/COUNT"),
        ("one/two", "is not INDEX/COUNT"),
        ("1/2/3", "is not INDEX/COUNT"),
        ("", "is not INDEX/COUNT"),
        ("$(JOB_COMPLETION_INDEX)/4", "is not INDEX/COUNT"),  # Kubernetes did not expand it
    ],
)
def test_bad_shard_is_a_usage_error_on_one_line(text, problem, capsys, tmp_path):
    with pytest.raises(ConfigError, match=problem):
        parse_shard(text)
    assert run_main("collect", "--shard", text, "--config", str(tmp_path / "absent.yaml")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --shard: ") and problem in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_parse_shard_accepts_the_rendered_form():
    assert parse_shard("0/1") == Shard(0, 1)
    assert parse_shard("3/4") == Shard(3, 4) and str(Shard(3, 4)) == "3/4"


def run_main(*args: str) -> int:
    sys.argv = ["evidence-agent", *args]
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def write_config(path, endpoint: str, db_url: str, names: list[str]):
    targets = [{"name": n, "provider": "aws", "regions": ["eu-west-1"], "endpoint_url": endpoint,
                "kinds": ["aws.iam.account.password_policy"], "exclude_kinds": MOTO_BLIND} for n in names]  # fmt: skip
    path.write_text(yaml.safe_dump({"database_url": db_url, "targets": targets}))
    return path


def test_shard_and_target_cannot_be_combined(tmp_path, capsys):
    assert run_main("collect", "--shard", "0/2", "--target", "a") == 2
    assert capsys.readouterr().err == "error: --shard: cannot be combined with --target\n"


def test_empty_shard_exits_0_and_says_so(tmp_path, capsys):
    names = ["prod-aws"]
    empty = next(i for i in range(4) if shard_of("prod-aws", 4) != i)
    config = write_config(tmp_path / "evidence-agent.yaml", "http://127.0.0.1:9", f"sqlite:///{tmp_path}/e.db", names)
    assert run_main("collect", "--config", str(config), "--shard", f"{empty}/4") == 0
    out = capsys.readouterr().out
    assert f"shard {empty}/4: none of the 1 configured targets falls in this shard; nothing to collect" in out
    assert run_main("collect", "--config", str(config), "--shard", f"{empty}/4", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"run": None, "aborted_runs": [], "gaps": [], "drift": [],
                   "shard": {"index": empty, "count": 4, "targets": []}}  # fmt: skip
    assert not (tmp_path / "e.db").exists(), "an empty shard opened no run and touched no database"


def test_shards_collect_disjoint_targets_that_cover_the_config(db_url, sandbox_endpoint, tmp_path, capsys):
    """The shard pods of one run, one after the other, into one database: each target is collected once."""
    from collector.sandbox.base import SANDBOX_CREDENTIALS

    names = ["acct-a", "acct-b", "acct-c", "acct-d", "acct-e"]
    config = write_config(tmp_path / "evidence-agent.yaml", sandbox_endpoint, db_url, names)
    count = 3
    with pytest.MonkeyPatch.context() as env:
        for key, value in SANDBOX_CREDENTIALS.items():
            env.setenv(key, value)
        documents = []
        for index in range(count):
            code = run_main("collect", "--config", str(config), "--shard", f"{index}/{count}", "--format", "json")
            documents.append(json.loads(capsys.readouterr().out))
            assert code == 0
    collected = [t for doc in documents if doc["run"] for t in doc["run"]["targets"]]
    assert sorted(collected) == names
    for index, doc in enumerate(documents):
        assert doc["shard"] == {"index": index, "count": count, "targets": shard_targets(names, Shard(index, count))}
        assert doc["run"] is None or doc["run"]["status"] == "complete"
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT target, count(*) FROM evidence_state GROUP BY target")).all()
    engine.dispose()
    assert {target for target, _ in rows} == set(names) and all(n == 1 for _, n in rows)
