"""Property test of the JSON API against its own OpenAPI document (schemathesis): whatever the generated path
and query values, with an engineer token, an auditor token or none, no answer is a 5xx."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from collector.store.engine import make_engine
from controls.catalog import load_catalog
from ea_testkit.portal import bearer, build_history, portal_app


@pytest.fixture(scope="module")
def api_schema(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("portal-fuzz") / "evidence.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    build_history(engine, load_catalog())
    yield schemathesis.openapi.from_asgi("/api/openapi.json", portal_app(engine))
    engine.dispose()


def test_no_input_makes_the_api_fail_with_a_5xx(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/frameworks/{framework}/controls/{control}", "/api/evidence/{item}",
                                              "/api/runs/{run_id}", "/api/access", "/metrics", "/healthz"}  # fmt: skip
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def no_5xx(case):
            for headers in (bearer("engineer"), bearer("auditor"), {}):
                response = case.call(headers=headers)
                assert response.status_code < 500, (case.method, case.formatted_path, case.query, response.text[:300])
                if not headers:
                    assert response.status_code in (200, 401), "only /healthz and the spec answer without a token"

        no_5xx()
