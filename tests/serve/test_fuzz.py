"""Schemathesis fuzzes every operation of the served OpenAPI spec: no input may cause a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tessera.serve import Settings, create_app


@pytest.fixture(scope="module")
def api(model_dir, tmp_path_factory, c2pa_dir):
    app = create_app(
        Settings(
            data_dir=tmp_path_factory.mktemp("fuzz"),
            model=model_dir,
            rate_per_minute=100_000,
            daily_quota=100_000,
            workers=0,
            image_timeout=0.2,  # no worker makes the images it asks for: each is a 504 that says so
        ),
        start_workers=False,
    )
    _, secret = app.state.tessera.keys.create("fuzz")
    return app, secret


def test_no_input_makes_a_server_error(api):
    app, secret = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            response = case.call(headers={"Authorization": f"Bearer {secret}"})
            where = f"{case.method} {case.formatted_path}"
            # The one 5xx an input may meet: an image that no worker made in time (this server runs none).
            unmade = response.status_code == 504 and "no worker made the image" in response.text
            assert response.status_code < 500 or unmade, f"{where}: {response.status_code} {response.text[:300]}"
            if response.status_code >= 400 and "application/json" in str(response.headers.get("content-type")):
                assert response.json()["error"]["message"], where  # every refusal explains itself

        fuzz()
