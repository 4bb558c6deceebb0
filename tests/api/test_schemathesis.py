"""The whole API fuzzed against its own OpenAPI schema by schemathesis, as a rep and as a manager.

A live server on loopback serves the test database; the `st` CLI (a subprocess) reads
/api/schema/, generates requests for every operation and checks every answer: no 5xx, a
status code the schema documents, a body that conforms to the documented schema. The
settings of the run are in schemathesis.toml next to this file.

Bounded for 2 cores: the rep's run has every phase (the coverage phase sends each parameter's
boundary and invalid values, whoever asks); the manager's run fuzzes and follows the links,
where a manager's wider scope and rights lead to other answers.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from api.tokens import api_token_create
from tests.api.world import build_world

ST = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).with_name("schemathesis.toml")
PHASES = {"rep": "coverage,fuzzing,stateful", "manager": "fuzzing,stateful"}
# The run's requests must not be throttled (the limits have their own tests).
UNTHROTTLED = {
    **settings.REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(("user", "anon", "token_login"), "1000000/minute"),
}


def run_schemathesis(*, base_url: str, token: str, phases: str, report: Path) -> dict:
    command = [
        str(ST),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/api/schema/",
        "--phases",
        phases,
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    env = {**os.environ, "FIELDWISE_API_TOKEN": token}
    # In the test's own directory: schemathesis keeps a cache (.schemathesis/) where it runs.
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=900, env=env, cwd=report.parent, check=False
    )
    assert report.exists(), f"schemathesis wrote no report (exit {done.returncode}):\n{done.stdout[-4000:]}"
    return {"exit": done.returncode, "report": json.loads(report.read_text()), "stdout": done.stdout}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_api_conforms_to_its_schema_for_a_rep_and_a_manager(
    live_server, eager_celery, tmp_path, schemathesis_results
):
    world = build_world()
    tokens = {
        "rep": api_token_create(user=world.rep, name="schemathesis").secret,
        "manager": api_token_create(user=world.manager, name="schemathesis").secret,
    }
    with override_settings(REST_FRAMEWORK=UNTHROTTLED):
        results = {
            who: run_schemathesis(
                base_url=live_server.url, token=token, phases=PHASES[who], report=tmp_path / f"{who}.json"
            )
            for who, token in tokens.items()
        }
    for who, result in results.items():
        report = result["report"]
        cases = report["test_cases"]
        schemathesis_results.append(
            f"{who}: {cases['generated']} cases over {report['operations']['tested']} operations "
            f"({PHASES[who]}), {cases['with_failures']} with failures, {report['running_time']:.0f} s"
        )
        assert result["exit"] == 0, f"{who}: schemathesis failed:\n{result['stdout'][-6000:]}"
        assert report["complete"], f"{who}: the run stopped early: {report['stop_reason']}"
        assert report["operations"]["tested"] == report["operations"]["selected"] > 30
        assert cases["generated"] > 0
        assert cases["with_failures"] == 0
        assert cases["errored"] == 0
        assert report["errors"] == []
