"""`profile import --prometheus … --llm`: the queries advisor writes, the totals and sizes it makes of the
answers, and one clear line for each bad answer. Prometheus is a local server speaking its HTTP API with
canned series (the real one is in tests/integration/test_traffic_prometheus.py)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from advisor.errors import InputError
from advisor.traffic.llm_prometheus import TokenQueries, import_token_traffic
from advisor.traffic.tokens import read_token_trace
from tests.helpers import assert_one_line_error
from tests.traffic_cost_helpers import invoke

Value = Callable[[float], float | None]  # a series' value at a time (None: no sample)
END = pd.Timestamp("2026-11-30T00:10:00Z")
START = END - pd.Timedelta(minutes=10)


class _Prometheus(BaseHTTPRequestHandler):
    """/api/v1/query_range and /api/v1/query; a query's answer is the first entry of ``answers`` whose key
    is part of it: a list of (labels, value at t) per series."""

    answers: ClassVar[dict[str, list[tuple[dict[str, str], Value]]]] = {}
    calls: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        args = {k: v[0] for k, v in form.items()}
        type(self).calls.append({**args, "path": self.path})
        if "broken(" in args["query"]:
            return self._reply(400, {"status": "error", "errorType": "bad_data", "error": "parse error"})
        series = next((v for k, v in self.answers.items() if k in args["query"]), [])
        if self.path.endswith("query_range"):
            step = float(args["step"])
            stamps = np.arange(float(args["start"]), float(args["end"]) + step / 2, step)
            result: list[dict[str, Any]] = [
                {"metric": labels, "values": [[t, str(v)] for t in stamps if (v := fn(t)) is not None]}
                for labels, fn in series
            ]
            return self._reply(200, {"status": "success", "data": {"resultType": "matrix", "result": result}})
        at = float(args["time"])
        result = [{"metric": labels, "value": [at, str(fn(at))]} for labels, fn in series]
        self._reply(200, {"status": "success", "data": {"resultType": "vector", "result": result}})

    def _reply(self, code: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _const(value: float) -> Value:
    return lambda _t: value


def _buckets(cumulative: dict[str, float]) -> list[tuple[dict[str, str], Value]]:
    return [({"le": le}, _const(count)) for le, count in cumulative.items()]


# 2 requests/s with 500 input and 130 output tokens each, for the 10 minutes before END
ENGINE: dict[str, list[tuple[dict[str, str], Value]]] = {
    "rate(vllm:request_success_total": [({}, _const(2.0))],
    "rate(vllm:prompt_tokens_total": [({}, _const(1000.0))],
    "rate(vllm:generation_tokens_total": [({}, _const(260.0))],
    "vllm:request_prompt_tokens_bucket": _buckets(
        {"100": 0, "200": 300, "500": 900, "1000": 1200, "+Inf": 1200}
    ),
    "vllm:request_generation_tokens_bucket": _buckets({"50": 600, "200": 900, "500": 1200, "+Inf": 1200}),
}


@pytest.fixture
def api() -> Iterator[str]:
    _Prometheus.answers, _Prometheus.calls = dict(ENGINE), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_queries_advisor_writes() -> None:
    queries = TokenQueries(llm_model='chat "v2"', selector='namespace="prod"')
    assert [q for _, q, _ in queries.rate_queries(60)] == [
        'sum(rate(vllm:request_success_total{model_name="chat \\"v2\\"",namespace="prod"}[60s]))',
        'sum(rate(vllm:prompt_tokens_total{model_name="chat \\"v2\\"",namespace="prod"}[60s]))',
        'sum(rate(vllm:generation_tokens_total{model_name="chat \\"v2\\"",namespace="prod"}[60s]))',
    ]
    assert queries.histogram_query("input", 600) == (
        'sum by (le) (increase(vllm:request_prompt_tokens_bucket{model_name="chat \\"v2\\"",'
        'namespace="prod"}[600s]))'
    )
    given = TokenQueries(requests_query="sum(rate(x_total[1m]))", output_histogram='tgi_len{job="tgi"}')
    assert given.rate_queries(60)[0] == ("requests", "sum(rate(x_total[1m]))", "--requests-query")
    assert given.histogram_query("output", 60) == 'sum by (le) (increase(tgi_len_bucket{job="tgi"}[60s]))'
    assert TokenQueries(input_histogram="none").histogram_query("input", 60) is None


def test_requests_and_tokens_are_counted_and_sizes_drawn_to_the_counters_means(api: str) -> None:
    traffic = import_token_traffic(api, TokenQueries(), start=START, end=END + pd.Timedelta(seconds=59))
    t = traffic.totals
    assert traffic.profile.steps == 10 and traffic.profile.start == START  # whole steps only
    assert (t.requests, t.input_tokens, t.output_tokens) == (1200, 600_000, 156_000)
    assert traffic.profile.total_requests == t.requests  # one answer for the total
    assert (t.mean_input_tokens, t.mean_output_tokens) == (500, 130)
    assert traffic.input_tokens.mean() == 500 and traffic.output_tokens.mean() == 130
    assert len(traffic.input_tokens) == 10_000
    # the input histogram: a quarter in (100, 200], half in (200, 500], a quarter in (500, 1000]
    share = np.bincount(np.searchsorted([100, 200, 500, 1000], traffic.input_tokens), minlength=5) / 10_000
    assert share.tolist() == [0, 0.25, 0.5, 0.25, 0]
    assert "histogram vllm:request_prompt_tokens" in t.input_sizes and t.source == traffic.profile.source
    ranges = [c for c in _Prometheus.calls if c["path"].endswith("query_range")]
    assert {float(c["start"]) for c in ranges} == {(START + pd.Timedelta(minutes=1)).timestamp()}  # step ends
    instants = [c for c in _Prometheus.calls if c["path"].endswith("/query")]
    assert [float(c["time"]) for c in instants] == [END.timestamp()] * 2 and "[600s]" in instants[0]["query"]


def test_without_a_histogram_every_size_is_the_counters_mean_and_the_source_says_so(api: str) -> None:
    del _Prometheus.answers["vllm:request_generation_tokens_bucket"]
    _Prometheus.answers["rate(vllm:generation_tokens_total"] = [({}, _const(261.0))]  # 130.5 a request
    traffic = import_token_traffic(api, TokenQueries(input_histogram="none"), start=START, end=END)
    assert set(traffic.input_tokens.tolist()) == {500}
    assert set(traffic.output_tokens.tolist()) == {130, 131} and traffic.output_tokens.mean() == 130.5
    assert "input sizes: the counters' mean (--input-tokens-histogram none)" in traffic.profile.source
    assert "output sizes: the counters' mean (no series for sum by (le)" in traffic.profile.source


def test_steps_without_a_sample_are_filled_and_counted(api: str) -> None:
    missing = (START + pd.Timedelta(minutes=4)).timestamp()
    _Prometheus.answers["rate(vllm:request_success_total"] = [({}, lambda t: None if t == missing else 2.0)]
    traffic = import_token_traffic(api, TokenQueries(), start=START, end=END)
    assert (
        traffic.totals.requests == 1200
        and "1 of 10 steps had no sample (interpolate)" in traffic.totals.source
    )


def _engine_with(**changes: list[tuple[dict[str, str], Value]]) -> None:
    rest = {k: v for k, v in _Prometheus.answers.items() if k not in changes}
    _Prometheus.answers = {**changes, **rest}  # looked up in order: the changes first


@pytest.mark.parametrize(
    ("flags", "answers", "needles"),
    [
        (["--requests-query", "sum(rate(nothing_total[1m]))"], {}, ["no samples for the requests query"]),
        (
            ["--requests-query", "rate(two_total[1m])"],
            {"two_total": [({"pod": "a"}, _const(1.0)), ({"pod": "b"}, _const(1.0))]},
            ["--requests-query", "the query returns 2 series"],
        ),
        (
            ["--requests-query", "sum(delta(restarted_total[1m]))"],
            {"restarted_total": [({}, lambda t: -500.0 if t == END.timestamp() else 2.0)]},
            ["--requests-query", "negative rate at 2026-11-30T00:10:00+00:00", "counter reset", "rate()"],
        ),
        (
            ["--llm-model", "llama-3-8b"],
            {
                'model_name="llama-3-8b"': [],
                "count by (model_name)": [
                    ({"model_name": "llama-3.1-8b"}, _const(9)),
                    ({"model_name": "mistral-7b"}, _const(9)),
                ],
            },
            ["--llm-model", "unknown vLLM model 'llama-3-8b'", "in the range: llama-3.1-8b, mistral-7b"],
        ),
        (
            ["--llm-model", "chat"],
            {'model_name="chat"': [], "count by (model_name)": []},
            ["--llm-model", "unknown vLLM model 'chat'", "no vllm:request_success_total series in the range"],
        ),
        (
            ["--llm"],
            {"rate(vllm:request_success_total": []},
            ["--llm-model/--llm-selector", "no samples for the requests query", "or give --requests-query"],
        ),
        (["--llm-selector", "broken("], {}, ["--llm-model/--llm-selector", "Prometheus rejected the query"]),
        (
            ["--llm"],
            {"rate(vllm:request_success_total": [({}, _const(0.0))]},
            ["no request finished between"],
        ),
        (
            ["--llm"],
            {"rate(vllm:generation_tokens_total": [({}, _const(1.0))]},
            ["0.5 output tokens per request, fewer than one"],
        ),
        (
            ["--input-tokens-histogram", "vllm:request_success_total"],
            {"vllm:request_success_total_bucket": [({"model_name": "m"}, _const(1.0))]},
            ["--input-tokens-histogram", "no le label"],
        ),
        (["--llm", "--query", "up"], {}, ["--prometheus", "no --query"]),
    ],
)
def test_bad_answers_and_flags_are_one_line(
    api: str,
    flags: list[str],
    answers: dict[str, list[tuple[dict[str, str], Value]]],
    needles: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _engine_with(**answers)
    end = END.strftime("%Y-%m-%dT%H:%M:%S")
    result = invoke(capsys, "profile", "import", "--prometheus", api, "--since", "10m", "--end", end, *flags)
    assert_one_line_error(result, *needles)


def test_the_cli_writes_the_profile_and_a_token_trace_a_scenario_can_name(
    api: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    end = END.strftime("%Y-%m-%dT%H:%M:%S")
    args = [
        "profile",
        "import",
        "--prometheus",
        api,
        "--llm",
        "--since",
        "10m",
        "--end",
        end,
        "--name",
        "chat",
    ]
    result = invoke(capsys, *args)
    assert result.code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "1,200 requests, 600,000 input tokens, 156,000 output tokens" in text
    assert "(per request 500.0 in, 130.0 out)" in text
    home = Path(str(tmp_path / "home"))
    assert len(pd.read_csv(home / "profiles" / "chat.csv")) == 10
    trace = read_token_trace(home / "token-traces" / "chat.csv")
    assert trace.input_tokens.mean() == 500 and trace.output_tokens.mean() == 130
    again = invoke(capsys, *args)  # the stored profile is not replaced unasked
    assert again.code == 2 and "profile 'chat' exists already; pass --force" in again.stderr, again.stderr
    as_json = invoke(capsys, *args, "--force", "--token-trace", str(tmp_path / "t.csv"), "--json")
    payload = json.loads(as_json.stdout)
    assert payload["token_trace"] == str(tmp_path / "t.csv") and payload["tokens"]["requests"] == 1200
    with pytest.raises(InputError, match="no whole 60 s step"):
        import_token_traffic(api, TokenQueries(), start=END, end=END + pd.Timedelta(seconds=59))
