"""The reference server under requests generated from openapi.yaml (schemathesis): never a 5xx, and every answer
in the document (the ``reference`` fixture checks each exchange after the test)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from tevo_bridge_http_pos.reference import RunningReference, openapi_text

DOCUMENT = yaml.safe_load(openapi_text())
OPERATIONS = [(path, method) for path, ops in DOCUMENT["paths"].items() for method in ops]


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_generated_requests_get_an_answer_from_the_document_and_never_a_server_error(
    path: str, method: str, reference: RunningReference,
) -> None:
    operation = schemathesis.openapi.from_dict(DOCUMENT)[path][method]
    auth = {"Authorization": f"Bearer {reference.token}"}

    @settings(max_examples=25, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    def fuzz(case: Any) -> None:
        try:
            response = case.call(base_url=reference.base_url, headers=auth, timeout=30)
        except Exception as exc:  # a generated header the HTTP client cannot send is not the server's fault
            if "header" in str(exc).lower() or "Invalid" in str(exc):
                return
            raise
        assert response.status_code < 500, f"{method.upper()} {path}: {response.status_code} {response.text[:200]}"

    fuzz()
