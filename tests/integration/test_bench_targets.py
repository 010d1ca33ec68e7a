"""Bench targets: `bench run` and `recommend --bench` start and load a server the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.bench.servers.spec import Payload, command_server, reference_server, resolve, server_for_model
from advisor.cli.bench import _server_target
from advisor.domain import DEFAULT_REQUEST_PATH
from advisor.errors import AdvisorError, InputError
from advisor.scenario.model import ModelSpec
from tests.helpers import assert_one_line_error, run_cli
from tests.optimize_helpers import model, scenario_dict, write_scenario

COMMAND = "python -m my_server --port {port} --workers 2"


def _spec(**server: object) -> ModelSpec:
    return ModelSpec.model_validate(model("scorer", server=server))


def test_the_port_placeholder_and_the_default_route() -> None:
    target = command_server("scorer", COMMAND, Payload(body={"x": 1}))
    assert target.command(8123) == ["python", "-m", "my_server", "--port", "8123", "--workers", "2"]
    assert target.server_env(8123)["PORT"] == "8123"
    request = target.request(8123)
    assert (request.base_url, request.path) == ("http://127.0.0.1:8123", DEFAULT_REQUEST_PATH)
    kserve = command_server("s", COMMAND, Payload("openai-embeddings", model_name="mini")).request(1)
    assert kserve.path == "/v1/embeddings"  # another protocol: its own route
    custom = command_server("s", COMMAND, Payload(body={}), request_path="/v1/score").request(1)
    assert custom.path == "/v1/score"
    with pytest.raises(InputError) as err:
        command_server("s", "python -m my_server --port $PORT", Payload(), where="models.0.server.command")
    assert "models.0.server.command" in err.value.one_line() and "{port}" in err.value.one_line()


def test_bench_run_and_a_scenario_build_the_same_target(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"x": [1, 2, 3]}))
    from_cli = _server_target("scorer", [], COMMAND, None, "/health", None, Payload(body_path=body))
    from_scenario = server_for_model(_spec(command=COMMAND, payload="body.json"), "models.0", tmp_path)
    assert from_scenario is not None
    assert from_cli.command(9000) == from_scenario.command(9000)
    assert from_cli.request(9000) == from_scenario.request(9000)
    assert json.loads(from_scenario.request(9000).body) == {"x": [1, 2, 3]}
    ref_cli = _server_target("synthetic", [], None, None, "/health", None, Payload())
    ref_scenario = server_for_model(_spec(reference="synthetic"), "models.0", tmp_path)
    assert ref_scenario is not None and ref_cli.command(1) == ref_scenario.command(1)
    assert ref_cli.request(1) == ref_scenario.request(1) and ref_cli.request(1).path == DEFAULT_REQUEST_PATH
    assert server_for_model(_spec(endpoint="http://x:1/p"), "models.0", tmp_path) is None


def test_scenario_errors_name_the_field_and_keep_the_file_location(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"x": ')
    with pytest.raises(AdvisorError) as err:
        server_for_model(_spec(command=COMMAND, payload="bad.json"), "models.3", tmp_path)
    line = err.value.one_line()
    assert line.startswith(f"models.3.server.payload: {tmp_path / 'bad.json'}:1:"), line
    with pytest.raises(AdvisorError) as missing:
        server_for_model(_spec(command=COMMAND, payload="nope.json"), "models.3", tmp_path)
    assert "models.3.server.payload" in missing.value.one_line()
    with pytest.raises(AdvisorError) as unknown:
        server_for_model(_spec(reference="tabluar"), "models.3", tmp_path)
    assert "models.3.server.reference" in unknown.value.one_line() and "tabular" in unknown.value.one_line()
    assert resolve(tmp_path, Path("/abs/b.json")) == Path("/abs/b.json")
    assert reference_server("synthetic", options={"slots": "8"}).label == "synthetic[slots=8]"


def test_an_old_style_port_variable_is_refused_at_its_line(tmp_path: Path) -> None:
    data = scenario_dict(model("a", server={"command": "python -m srv --port $PORT"}))
    path = write_scenario(tmp_path / "s.yaml", data)
    assert_one_line_error(run_cli("recommend", str(path), "--bench"), "models.0.server", "{port}", f"{path}:")


@pytest.mark.parametrize(
    ("server", "field", "needle"),
    [
        ({"command": "python -m srv --port {port}", "payload": "missing.json"}, "payload", "does not exist"),
        ({"command": "python -m srv 'unbalanced {port}"}, "command", "balance the quotes"),
        ({"endpoint": "ftp://x/p"}, "endpoint", "not an http(s) URL"),
        ({"endpoint": "http://x:1/p", "payload": "missing.json"}, "payload", "does not exist"),
        ({"reference": "tabular", "template": "soap"}, "template", "unknown payload template"),
    ],
)
def test_a_server_bench_could_not_use_is_refused_when_the_scenario_loads(
    tmp_path: Path, server: dict[str, str], field: str, needle: str
) -> None:
    """Without --bench as well: a scenario is checked whole, not twenty minutes into a bench."""
    path = write_scenario(tmp_path / "s.yaml", scenario_dict(model("a", server=server)))
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if f"{field}:" in row)
    assert_one_line_error(run_cli("recommend", str(path)), f"{path}:{line}: models.0.server.{field}", needle)
