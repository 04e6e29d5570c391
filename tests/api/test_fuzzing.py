"""Property-based fuzzing of every described operation against a real server (schemathesis).

Schemathesis reads ``/openapi.json`` and sends generated requests, valid and invalid, to each
operation: none may get a 5xx, and every response must match the description (status, content type,
body schema). CI runs a few examples per operation; set ``GLIMPSE_FUZZ_EXAMPLES`` for a longer run
(``docs/reliability.md``: ``GLIMPSE_FUZZ_EXAMPLES=200 python -m pytest tests/api/test_fuzzing.py``).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the 'test' extra: pip install -e '.[test]'")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode, checks  # noqa: E402

from tests.conftest import Server  # noqa: E402

EXAMPLES = int(os.environ.get("GLIMPSE_FUZZ_EXAMPLES", "4"))
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
# JSON Patch documents are JSON: reuse schemathesis's JSON serializer for the patch media type.
schemathesis.serializer.alias("application/openstack-images-v2.1-json-patch", "application/json")
HEADERS = {"X-Project-Id": "fuzzing", "X-Roles": "member,reader", "Accept": "application/json"}


def test_no_generated_request_gets_a_server_error_or_an_undescribed_response(backend: str,
                                                                            request: pytest.FixtureRequest) -> None:
    if backend == "mariadb" and EXAMPLES <= 4:
        pytest.skip("the short run fuzzes SQLite and PostgreSQL; set GLIMPSE_FUZZ_EXAMPLES for MariaDB too")
    server: Server = request.getfixturevalue("server")
    described = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in described.get_all_operations():
        operation = result.ok()
        operations += 1
        # Generated image ids would almost all be unknown (404): each operation on an image gets a real one.
        image_id = None
        if "{image_id}" in operation.path:
            created = httpx.post(f"{server.url}/v2/images", headers=HEADERS,
                                 json={"name": "fuzzed", "disk_format": "raw", "container_format": "bare"})
            assert created.status_code == 201, created.text
            image_id = created.json()["id"]
        # Only bodies and query strings can be made invalid: any text is a valid path parameter.
        negative = [GenerationMode.NEGATIVE] if len(operation.body) or len(operation.query) else []
        for mode in (GenerationMode.POSITIVE, *negative):

            # schemathesis's own pytest plugin does not run on pytest 9 (it sets a private node id), so each
            # operation gets a Hypothesis test of its own here, for valid and for invalid requests.
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            def call(case: Any) -> None:
                if image_id is not None:
                    case.path_parameters["image_id"] = image_id
                response = case.call_and_validate(base_url=server.url, headers=HEADERS, checks=CHECKS)
                statuses[response.status_code] += 1

            try:
                call()
            except Unsatisfiable:
                continue  # nothing invalid to generate for this operation
            except Exception as exc:  # every failing operation is reported, not only the first
                failures.append(f"{mode.value} {operation.method.upper()} {operation.path}: {exc}"[:2000])
    print(f"{operations} operations, {sum(statuses.values())} requests, statuses {sorted(statuses.items())}")
    assert operations >= 60
    assert sum(statuses.values()) >= operations
    assert not failures, "\n\n".join(failures)
