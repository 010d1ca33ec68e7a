"""`profile import --prometheus`: against a real Prometheus (Debian's package, installed by .ci/packages.sh)
scraping two small exporters the test starts on loopback (a request counter, and a vLLM engine's request and
token counters and histograms, restarted once), and against a local server speaking the same HTTP API for
what a real one cannot be made to do on cue (paging, several series, gaps, auth headers)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import yaml

import advisor
from advisor.errors import InputError
from advisor.report.runner import send
from advisor.scenario import load_scenario
from advisor.traffic.prometheus import PAGE_STEPS, import_prometheus
from advisor.traffic.tokens import read_token_trace
from tests.helpers import REPO_ROOT, assert_one_line_error
from tests.report_helpers import free_port, smtp_server
from tests.traffic_cost_helpers import invoke

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
INSTALL_LOG = REPO_ROOT / "build" / "apt-install.log"
RATE = 5.0  # requests/s the exporter's counter grows by


class _Exporter(BaseHTTPRequestHandler):
    started = time.time()

    def do_GET(self) -> None:
        body = (
            "# TYPE demo_requests_total counter\n"
            f'demo_requests_total{{service="api"}} {RATE * (time.time() - self.started):.3f}\n'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


# The vLLM engine's exporter: two models finishing requests at a steady rate, request k of a model with the
# k-th sizes of the patterns (cycled), as vLLM's /metrics names and labels them (vllm/v1/metrics/loggers.py).
# requests/s each model finishes, before and after the engine slows down (at the first 5 s boundary after the
# restart, so that each of the import's 5 s steps has one rate: a step out of place would show)
LLM_RATES = {"chat": (200.0, 120.0), "summarise": (50.0, 30.0)}
INPUT_PATTERN = (30, 1500, 80, 700, 150, 1800, 300, 90)  # input tokens of consecutive requests
OUTPUT_PATTERN = (120, 8, 400, 35, 250, 60, 900, 15)
VLLM_BUCKETS = ("1", "2", "5", "10", "20", "50", "100", "200", "500", "1000", "2000", "+Inf")
RESTART_AFTER_S = 12.0  # the engine restarts (every counter back to zero) this long after the first scrape


def _tokens(pattern: tuple[int, ...], n: int) -> int:
    return n // len(pattern) * sum(pattern) + sum(pattern[: n % len(pattern)])


def _at_most(pattern: tuple[int, ...], n: int, le: str) -> int:
    bound = float(le)
    return n // len(pattern) * sum(p <= bound for p in pattern) + sum(
        p <= bound for p in pattern[: n % len(pattern)]
    )


class _VllmExporter(BaseHTTPRequestHandler):
    started = time.time()
    first_scrape: ClassVar[float | None] = None
    slow_down_at: ClassVar[float | None] = None
    served_before: ClassVar[dict[str, int]] = {}  # the true values at the scrape before
    restart_offset: ClassVar[dict[str, int] | None] = None  # subtracted from every value since the restart
    lock = threading.Lock()

    @classmethod
    def finished(cls, model: str, t: float) -> int:
        before, after = LLM_RATES[model]
        if cls.slow_down_at is None or t <= cls.slow_down_at:
            return int(before * (t - cls.started))
        return int(before * (cls.slow_down_at - cls.started) + after * (t - cls.slow_down_at))

    @classmethod
    def true_values(cls, t: float) -> dict[str, int]:
        """Every sample line's name{labels}, and its value had the engine never restarted."""
        out: dict[str, int] = {}
        n = {model: cls.finished(model, t) for model in LLM_RATES}
        labels = {model: f'model_name="{model}",engine="0"' for model in LLM_RATES}
        for model in LLM_RATES:  # every 4th request stops at its length limit
            out[f'vllm:request_success_total{{{labels[model]},finished_reason="stop"}}'] = (
                n[model] - n[model] // 4
            )
            out[f'vllm:request_success_total{{{labels[model]},finished_reason="length"}}'] = n[model] // 4
        for counter, pattern in (("prompt", INPUT_PATTERN), ("generation", OUTPUT_PATTERN)):
            for model in LLM_RATES:
                out[f"vllm:{counter}_tokens_total{{{labels[model]}}}"] = _tokens(pattern, n[model])
        for histogram, pattern in (("prompt", INPUT_PATTERN), ("generation", OUTPUT_PATTERN)):
            name = f"vllm:request_{histogram}_tokens"
            for model in LLM_RATES:
                for le in VLLM_BUCKETS:
                    out[f'{name}_bucket{{{labels[model]},le="{le}"}}'] = _at_most(pattern, n[model], le)
                out[f"{name}_sum{{{labels[model]}}}"] = _tokens(pattern, n[model])
                out[f"{name}_count{{{labels[model]}}}"] = n[model]
        return out

    @classmethod
    def truth(cls, model: str, start: float, end: float) -> tuple[int, int, int]:
        """Requests, input and output tokens the model finished between two times."""
        a, b = cls.finished(model, start), cls.finished(model, end)
        return (
            b - a,
            _tokens(INPUT_PATTERN, b) - _tokens(INPUT_PATTERN, a),
            _tokens(OUTPUT_PATTERN, b) - _tokens(OUTPUT_PATTERN, a),
        )

    def do_GET(self) -> None:
        now = time.time()
        cls = type(self)
        with cls.lock:
            if cls.first_scrape is None:
                cls.first_scrape = now
                cls.slow_down_at = math.ceil((now + RESTART_AFTER_S) / 5) * 5.0
            true = cls.true_values(now)
            if cls.restart_offset is None and now >= cls.first_scrape + RESTART_AFTER_S:
                # The engine restarted just after the scrape before: what it has done since then is all
                # it reports now, so Prometheus sees every counter fall (a reset) and nothing is lost.
                cls.restart_offset = dict(cls.served_before)
            cls.served_before = true
            offset = cls.restart_offset or {}
        body, family = [], ""
        for line, value in true.items():  # families in turn, each announced by its TYPE line
            name = line.split("{")[0]
            histogram = not name.endswith("_total")
            if (name.rsplit("_", 1)[0] if histogram else name) != family:
                family = name.rsplit("_", 1)[0] if histogram else name
                body.append(f"# TYPE {family} {'histogram' if histogram else 'counter'}\n")
            body.append(f"{line} {value - offset.get(line, 0)}\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write("".join(body).encode())

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus on loopback scraping the exporter every second; its URL once it holds samples."""
    if not Path(PROMETHEUS).is_file():
        why = INSTALL_LOG.read_text().strip() if INSTALL_LOG.is_file() else "run .ci/packages.sh as root"
        pytest.skip(f"no prometheus binary ({why}); the local API server tests below still run")
    exporter, target = _serve(_Exporter)
    engine, engine_target = _serve(_VllmExporter)
    folder = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {"job_name": "demo", "static_configs": [{"targets": [target[7:]]}]},
            {"job_name": "vllm", "static_configs": [{"targets": [engine_target[7:]]}]},
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                query = urllib.parse.quote("count_over_time(demo_requests_total[1m])")
                with urllib.request.urlopen(f"{url}/api/v1/query?query={query}", timeout=2) as reply:
                    result = json.load(reply)["data"]["result"]
                if result and float(result[0]["value"][1]) >= 12:  # a dozen scrapes: rates over 5 s exist
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("Prometheus did not collect samples within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        exporter.shutdown()
        engine.shutdown()


@pytest.mark.slow
def test_a_real_prometheus_query_becomes_a_profile(
    prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(
        capsys,
        "profile",
        "import",
        "--prometheus",
        prometheus,
        "--query",
        'sum(rate(demo_requests_total{service="api"}[5s]))',
        "--since",
        "10s",
        "--step",
        "1",
        "--name",
        "api-live",
    )
    assert result.code == 0, result.stderr
    written = Path(os.environ["ADVISOR_HOME"]) / "profiles" / "api-live.csv"
    frame = pd.read_csv(written)
    assert 10 <= len(frame) <= 11  # the start is floored to the step
    assert frame["rps"].median() == pytest.approx(RATE, rel=0.1)  # what the counter grows by


@pytest.mark.slow
def test_a_bad_query_to_a_real_prometheus_is_one_line(
    prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(
        capsys,
        "profile",
        "import",
        "--prometheus",
        prometheus,
        "--query",
        "sum(rate(demo_requests_total[5s]",
        "--since",
        "1m",
    )
    assert_one_line_error(result, "Prometheus rejected the query", "--query")


def _wait_for_the_engine(prometheus: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """A 20 s range of whole 5 s steps that Prometheus has scraped throughout, with the restart inside."""
    deadline = time.monotonic() + 30
    while _VllmExporter.first_scrape is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _VllmExporter.first_scrape is not None, "Prometheus never scraped the vLLM exporter"
    end = pd.Timestamp(_VllmExporter.first_scrape + RESTART_AFTER_S + 17, unit="s", tz="UTC").floor("5s")
    start = end - pd.Timedelta(seconds=20)  # 4-9 s after the first scrape, 3-8 s before the restart
    time.sleep(max(0.0, end.timestamp() + 3 - time.time()))  # the scrapes after the end are in
    return start, end


@pytest.mark.slow
def test_an_llm_engines_requests_and_tokens_equal_the_exporters(
    prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    start, end = _wait_for_the_engine(prometheus)
    restart = (_VllmExporter.first_scrape or 0) + RESTART_AFTER_S
    assert start.timestamp() + 2 < restart < end.timestamp() - 2  # a counter reset inside the range
    result = invoke(
        capsys,
        "profile",
        "import",
        "--prometheus",
        prometheus,
        "--llm-model",
        "chat",
        "--since",
        "20s",
        "--end",
        end.strftime("%Y-%m-%dT%H:%M:%S"),
        "--step",
        "5",
        "--name",
        "chat-live",
        "--json",
    )
    assert result.code == 0, result.stderr
    payload = json.loads(result.stdout)
    tokens, summary = payload["tokens"], payload["summary"]
    assert (summary["start"], summary["end"], summary["steps"]) == (start.isoformat(), end.isoformat(), 4)
    requests, input_tokens, output_tokens = _VllmExporter.truth("chat", start.timestamp(), end.timestamp())
    assert tokens["requests"] == pytest.approx(requests, rel=0.01)
    assert tokens["input_tokens"] == pytest.approx(input_tokens, rel=0.01)
    assert tokens["output_tokens"] == pytest.approx(output_tokens, rel=0.01)
    written = pd.read_csv(payload["written"])
    assert written["rps"].sum() * 5 == pytest.approx(requests, rel=0.01)  # the profile holds them all
    steps = [
        _VllmExporter.truth("chat", t, t + 5)[0]
        for t in range(int(start.timestamp()), int(end.timestamp()), 5)
    ]
    assert len(set(steps)) == 2  # before and after the engine slowed down
    assert (written["rps"] * 5).tolist() == pytest.approx(steps, rel=0.05)  # each step in its place
    trace = read_token_trace(Path(payload["token_trace"]))
    assert trace.input_tokens.mean() == pytest.approx(tokens["input_tokens"] / tokens["requests"], abs=1e-3)
    assert trace.output_tokens.mean() == pytest.approx(tokens["output_tokens"] / tokens["requests"], abs=1e-3)
    # its sizes fall in vLLM's buckets as the exporter's requests do: an eighth of them in each pattern size's
    edges = [float(le) for le in VLLM_BUCKETS[:-1]]
    for sizes, pattern in ((trace.input_tokens, INPUT_PATTERN), (trace.output_tokens, OUTPUT_PATTERN)):
        drawn = np.bincount(np.searchsorted(edges, sizes, side="left"), minlength=len(edges) + 1)
        exported = np.bincount(np.searchsorted(edges, pattern, side="left"), minlength=len(edges) + 1)
        assert np.allclose(drawn / len(sizes), exported / len(pattern), atol=0.01)
    assert "histogram vllm:request_prompt_tokens" in tokens["input_sizes"]
    assert 'model_name="chat"' in summary["source"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (
            ["--llm-model", "chatt"],
            ["--llm-model", "unknown vLLM model 'chatt'", "in the range: chat, summarise"],
        ),
        (
            ["--requests-query", 'rate(vllm:request_success_total{model_name="chat"}[5s])'],
            ["--requests-query", "the query returns 2 series"],
        ),
    ],
)
def test_bad_llm_imports_from_a_real_prometheus_are_one_line(
    prometheus: str, flags: list[str], needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(
        capsys, "profile", "import", "--prometheus", prometheus, "--since", "10s", "--step", "5", *flags
    )
    assert_one_line_error(result, *needles)


class _FakeApi(BaseHTTPRequestHandler):
    """/api/v1/query_range as Prometheus answers it; the query text picks the behaviour."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        args = {k: v[0] for k, v in form.items()}
        type(self).calls.append({**args, "authorization": self.headers.get("Authorization")})
        start, end, step = float(args["start"]), float(args["end"]), float(args["step"])
        stamps = np.arange(start, end + step / 2, step)
        query = args["query"]
        if query == "broken(":
            return self._reply(
                400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 8"}
            )
        if query == "secret" and self.headers.get("Authorization") != "Bearer t0ken":
            return self._reply(401, {"status": "error", "errorType": "unauthorized", "error": "no"})
        series: list[dict[str, Any]] = [
            {
                "metric": {},
                "values": [
                    [t, str(10 + (t // 3600) % 24)] for t in stamps if query != "gappy" or int(t // step) % 10
                ],
            }
        ]
        if query == "two":
            series.append({"metric": {"pod": "b"}, "values": series[0]["values"]})
        self._reply(200, {"status": "success", "data": {"resultType": "matrix", "result": series}})

    def _reply(self, code: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    _FakeApi.calls = []
    server, url = _serve(_FakeApi)
    yield url
    server.shutdown()


END = pd.Timestamp("2026-11-30T00:00:00Z")


def test_a_long_range_is_paged_under_the_point_limit(api: str) -> None:
    profile = import_prometheus(api, "q", start=END - pd.Timedelta(days=21), end=END, step_s=60)
    assert profile.steps == 21 * 1440 and len(_FakeApi.calls) == -(-21 * 1440 // PAGE_STEPS)
    assert all((float(c["end"]) - float(c["start"])) / 60 + 1 <= 11_000 for c in _FakeApi.calls)
    expected = 10 + (profile.index.asi8 // 10**9 // 3600) % 24
    assert np.array_equal(profile.rps, expected)  # every step where Prometheus put it


def test_gaps_are_filled_and_said(api: str) -> None:
    profile = import_prometheus(api, "gappy", start=END - pd.Timedelta(hours=2), end=END, step_s=60)
    assert not np.isnan(profile.rps).any() and "12 of 120 steps had no sample (interpolate)" in profile.source


def test_the_header_is_sent_and_never_shown(api: str, capsys: pytest.CaptureFixture[str]) -> None:
    ok = import_prometheus(
        api, "secret", start=END - pd.Timedelta(hours=1), end=END, headers={"Authorization": "Bearer t0ken"}
    )
    assert ok.steps == 60 and _FakeApi.calls[-1]["authorization"] == "Bearer t0ken"
    refused = invoke(
        capsys,
        "profile",
        "import",
        "--prometheus",
        api,
        "--query",
        "secret",
        "--since",
        "1h",
        "--header",
        "Authorization: Bearer wrong-t0ken",
    )
    assert_one_line_error(refused, "answered HTTP 401", "--prometheus")
    assert "t0ken" not in refused.stderr + refused.stdout


@pytest.mark.parametrize(
    ("query", "needle", "where"),
    [
        ("broken(", "Prometheus rejected the query: parse error at char 8", "--query"),
        ("two", "the query returns 2 series", "--query"),
    ],
)
def test_bad_answers_are_one_line(
    api: str, query: str, needle: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_line_error(
        invoke(capsys, "profile", "import", "--prometheus", api, "--query", query), needle, where
    )


def test_an_unreachable_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = invoke(capsys, "profile", "import", "--prometheus", url, "--query", "up")
    assert_one_line_error(result, f"cannot reach Prometheus at {url}", "--prometheus")
    with pytest.raises(InputError, match="is not an http"):
        import_prometheus("ftp://x", "up", start=END - pd.Timedelta(hours=1), end=END)


def test_report_send_refreshes_a_models_traffic_from_its_source(api: str, tmp_path: Path) -> None:
    data = yaml.safe_load((REPO_ROOT / "examples" / "demo-scenario.yaml").read_text())
    data["models"][0]["traffic"] = {
        "profile": "fraud-live",
        "peak_rps": 900,
        "source": {"prometheus": {"url": api, "query": "q", "since": "7d"}},
    }
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    port = free_port()
    settings = advisor.Settings(
        home=tmp_path / "home",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_from="advisor@example.com",
    )
    with smtp_server(port) as box:
        scenario = load_scenario(path)
        result = send(
            scenario, path, settings, now=END.to_pydatetime(), refresh_traffic=True,
            fresh=lambda: advisor.recommend(scenario, settings=settings, scenario_file=path),
        )  # fmt: skip
    assert not result.failed and len(box.received) == 4
    written = pd.read_csv(settings.home / "profiles" / "fraud-live.csv")
    assert len(written) == 7 * 1440 and written["rps"].min() == 10 and written["rps"].max() == 33
    rec = advisor.stored_recommendation(result.recommendation_id, settings=settings)
    assert rec.model("fraud-scorer").traffic_profile == "fraud-live"
    assert float(_FakeApi.calls[-1]["end"]) == END.timestamp() - 60  # the last step before --at
