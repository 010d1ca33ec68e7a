"""``advisor recommend`` with language models: the Azure conversation case of issue 22 through the CLI, the
demo with one LLM model added (its classic figures as in the golden file), and bad LLM entries as one line."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
import yaml

from advisor.recommendation.model import Recommendation
from tests.helpers import REPO_ROOT, SHARED, assert_one_line_error, json_differences, run_cli

CONV = SHARED / "traces" / "azure_llm_inference_2023_conv.csv"
DEMO = REPO_ROOT / "examples" / "demo-scenario.yaml"
GOLDEN = REPO_ROOT / "tests" / "golden" / "demo-recommendation.json"
GPU_FAMILIES = ("g5", "g6", "g6e", "p4d", "p4de", "p5")
CHAT = {
    "name": "chat",
    "team": "assistants",
    "llm": {"model": "llama-3.1-8b", "dtype": "bf16", "engine": "vllm"},
    "slo": {"ttft_p99_ms": 2000, "tpot_p99_ms": 100},
    "traffic": {"profile": "diurnal-business-api", "peak_rps": 6},
    "current": {"platform": "ec2", "instance_type": "p4d.24xlarge", "count": 1},
}


def _gpu_types() -> list[str]:
    from advisor import Catalog, Settings

    catalog = Catalog.load(Settings())
    return [n for n in catalog.instance_type_names if n.split(".")[0] in GPU_FAMILIES]


def _write(tmp_path: Path, data: dict) -> Path:  # type: ignore[type-arg]
    path = tmp_path / "llm.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recommendation, str, str]:
    if not CONV.is_file():
        pytest.skip("../shared/traces/ is not beside the checkout")
    tmp = tmp_path_factory.mktemp("llm")
    api = {"name": "Bedrock", "usd_per_m_input": 0.22, "usd_per_m_output": 0.22, "source": "test prices"}
    chat = {**CHAT, "tokens": {"trace": str(CONV)}, "instance_types": _gpu_types(), "per_token_api": api}
    path = _write(tmp, {"name": "azure-chat", "region": "us-east-1", "models": [chat]})
    env = {"ADVISOR_HOME": str(tmp / "home")}
    out = run_cli("recommend", str(path), "--json", "--no-store", env=env)
    assert out.code == 0, out.stderr
    table = run_cli("recommend", str(path), "--no-store", env=env)
    md = run_cli("recommend", str(path), "--markdown", "--no-store", env=env)
    return Recommendation.model_validate(json.loads(out.stdout)), table.stdout, md.stdout


def test_the_azure_chat_plan_fits_holds_and_beats_the_best_single_type(
    azure: tuple[Recommendation, str, str],
) -> None:
    rec, _, _ = azure
    assert rec.models == [] and len(rec.llm_models) == 1
    m = rec.llm_models[0]
    assert m.action == "change" and m.groups and m.routing
    for g in m.groups:  # weights + the KV cache of the batch it assumes fit under vLLM's cap
        assert g.weights_gib_per_device + g.kv_cache_gib_per_device <= 0.9 * 80
        assert 0 <= g.min_instances <= g.max_instances
    for r in m.routing:
        assert sum(r.to.values()) == pytest.approx(1.0)
        assert set(r.to) <= {g.option for g in m.groups}
    assert sum(r.share_of_requests for r in m.routing) == pytest.approx(1.0)
    tokens_m = (m.input_tokens_per_month + m.output_tokens_per_month) / 1e6
    assert m.tokens.usd_per_m_blended == pytest.approx(m.usd_per_month / tokens_m)
    out_per_s = m.output_tokens_per_month / (730 * 3600)
    assert m.tokens.output_tokens_per_s_per_usd_per_hour == pytest.approx(out_per_s / (m.usd_per_month / 730))
    best = next(b for b in m.baselines if b.name == "best_single_type")
    assert m.usd_per_month <= best.usd_per_month + 1e-6
    api = next(b for b in m.baselines if b.name == "per_token_api")
    assert api.usd_per_month == pytest.approx(0.22 * tokens_m)
    # at the break-even mean rate the API bills exactly what the plan costs
    tokens_per_request = sum(r.share_of_requests * (r.input_tokens + r.output_tokens) for r in m.routing)
    per_request_usd = tokens_per_request * 0.22 / 1e6
    assert m.break_even_rps == pytest.approx(m.usd_per_month / (730 * 3600) / per_request_usd)
    hours = sum(g.instance_hours_per_month * g.usd_per_hour for g in m.groups)
    assert hours == pytest.approx(m.usd_per_month)
    # the totals carry the language model, the levers add up to the saving against today
    t = rec.totals
    assert t.recommended_usd_per_month == pytest.approx(m.effective_usd_per_month)
    assert t.current_usd_per_month == pytest.approx(m.current_usd_per_month)
    parts = sum(lv.usd_per_month for lv in t.savings_by_lever if lv.in_total)
    assert parts == pytest.approx(t.current_usd_per_month - t.recommended_usd_per_month)  # type: ignore[operator]


def test_the_table_and_markdown_show_the_mix_routing_and_token_prices(
    azure: tuple[Recommendation, str, str],
) -> None:
    rec, table, md = azure
    m = rec.llm_models[0]
    for text in (table, md):
        assert "Language models" in text and "$/M blended" in text
        assert f"${m.tokens.usd_per_m_blended:,.3f}" in text
        assert m.routing[0].bucket in text and "best single type" in text
    assert "## Language models" in md and "Routing (request-size bucket → instance types):" in md


def test_the_demo_with_an_llm_model_keeps_its_classic_figures(tmp_path: Path) -> None:
    demo = yaml.safe_load(DEMO.read_text())
    chat = {
        **CHAT,
        "tokens": {"input": 1000, "output": 130},
        "instance_types": ["g5.xlarge", "g6e.xlarge", "p5.4xlarge"],
    }
    demo["models"].append(chat)
    path = tmp_path / "demo-scenario.yaml"  # beside the demo's own files
    path.write_text(yaml.safe_dump(demo, sort_keys=False))
    for extra in (REPO_ROOT / "examples").iterdir():
        if extra.is_file() and extra.name != path.name:
            (tmp_path / extra.name).write_bytes(extra.read_bytes())
    out = run_cli(
        "recommend",
        str(path),
        "--json",
        "--no-store",
        "--seed",
        "0",
        env={"ADVISOR_HOME": str(tmp_path / "h")},
    )
    assert out.code == 0, out.stderr
    rec = Recommendation.model_validate(json.loads(out.stdout))
    golden = Recommendation.model_validate(json.loads(GOLDEN.read_text()))
    classic = [m.model_dump(mode="json") for m in rec.models]
    assert not json_differences(classic, [m.model_dump(mode="json") for m in golden.models])
    (llm,) = rec.llm_models
    assert llm.model == "chat" and llm.tokens.usd_per_m_blended is not None
    assert rec.totals.recommended_usd_per_month == pytest.approx(
        golden.totals.recommended_usd_per_month + llm.effective_usd_per_month
    )
    env = {"ADVISOR_HOME": str(tmp_path / "h")}
    table = run_cli("recommend", str(path), "--no-store", env=env).stdout
    md = run_cli("recommend", str(path), "--markdown", "--no-store", env=env).stdout
    for text in (table, md):  # the classic tables and the language model's section, side by side
        assert "fraud-scorer" in text and "Language models" in text and "chat" in text
        assert f"${llm.tokens.usd_per_m_blended:,.3f}" in text


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        ({"slo": {"ttft_p99_ms": 2000}}, ["models.0.slo.tpot_p99_ms"]),
        ({"tokens": {"input": 10}}, ["models.0.tokens", "tokens.output"]),
        ({"llm": {"model": "gpt-5"}}, ["gpt-5", "models.0.llm"]),
        ({"llm": {"model": "llama-3.1-8b", "config": "c.json"}}, ["llm.model", "llm.config"]),
        ({"tokens": {"trace": "nowhere.csv"}}, ["nowhere.csv"]),
        ({"instance_types": ["g5.xlrage"]}, ["g5.xlrage"]),
        ({"slo": {"ttft_p99_ms": 1, "tpot_p99_ms": 1}}, ["models.0.slo", "SLO"]),
    ],
)
def test_a_bad_llm_entry_is_one_line(tmp_path: Path, change: dict, needles: list[str]) -> None:  # type: ignore[type-arg]
    chat = {**CHAT, "tokens": {"input": 500, "output": 100}, "instance_types": ["g5.xlarge"], **change}
    path = _write(tmp_path, {"name": "bad", "models": [chat]})
    assert_one_line_error(
        run_cli("recommend", str(path), "--no-store", env={"ADVISOR_HOME": str(tmp_path / "h")}), *needles
    )


def test_a_stored_llm_bench_run_wins_over_the_prior(tmp_path: Path) -> None:
    from advisor.bench.llm.records import LLMSLO, LLMCapacity, SizeSpec
    from advisor.bench.llm.store import save
    from advisor.settings import Settings
    from advisor.store import Store

    home = tmp_path / "home"
    env = {"ADVISOR_HOME": str(home)}
    chat = {**CHAT, "tokens": {"input": 1000, "output": 130}, "instance_types": ["g5.xlarge", "g5.2xlarge"]}
    path = _write(tmp_path, {"name": "measured", "models": [chat]})
    before = Recommendation.model_validate(
        json.loads(run_cli("recommend", str(path), "--json", "--no-store", env=env).stdout)
    )
    prior = {g.instance_type: g for g in before.llm_models[0].groups}
    assert all(g.capacity_method == "prior" for g in prior.values())
    sizes = SizeSpec(kind="fixed", input_tokens=1000, output_tokens=130)
    slo = LLMSLO(ttft_p99_ms=2000, tpot_p99_ms=100)
    result = LLMCapacity(
        run_id="llm-run-1", model="chat", shape="g5.2xlarge", slo=slo, sizes=sizes, capacity_rps=0.5
    )
    with Store(Settings(home=home).db_path) as store:
        save(store, result, target="http://127.0.0.1:8000/v1/chat/completions")
    after = Recommendation.model_validate(
        json.loads(run_cli("recommend", str(path), "--json", "--no-store", env=env).stdout)
    )
    m = after.llm_models[0]
    methods = {g.instance_type: g.capacity_method for g in m.groups}
    assert "measured" in methods.values() or "calibrated" in methods.values()
    assert "measured" in m.notes[0]
    # half a request/s a g5.2xlarge: far under the prior, so the plan needs more instances and costs more
    assert m.usd_per_month > before.llm_models[0].usd_per_month


def test_a_stored_run_that_met_the_slo_at_no_rate_leaves_its_type_out(tmp_path: Path) -> None:
    from advisor.bench.llm.records import LLMSLO, LLMCapacity, SizeSpec
    from advisor.bench.llm.store import save
    from advisor.settings import Settings
    from advisor.store import Store

    home = tmp_path / "home"
    chat = {**CHAT, "tokens": {"input": 1000, "output": 130}, "instance_types": ["g5.xlarge", "g5.2xlarge"]}
    path = _write(tmp_path, {"name": "measured", "models": [chat]})
    sizes = SizeSpec(kind="fixed", input_tokens=1000, output_tokens=130)
    nothing = LLMCapacity(
        run_id="llm-run-0", model="chat", shape="g5.xlarge", slo=LLMSLO(ttft_p99_ms=2000, tpot_p99_ms=100),
        sizes=sizes, capacity_rps=0.0, reason="no rate met the SLO",
    )  # fmt: skip
    with Store(Settings(home=home).db_path) as store:
        save(store, nothing, target="http://127.0.0.1:8000/v1/chat/completions")
    env = {"ADVISOR_HOME": str(home)}
    got = Recommendation.model_validate(
        json.loads(run_cli("recommend", str(path), "--json", "--no-store", env=env).stdout)
    )
    m = got.llm_models[0]
    assert {g.instance_type for g in m.groups} == {"g5.2xlarge"}  # the prior alone picks g5.xlarge
    assert "measured to meet the SLO at no rate: g5.xlarge" in m.notes[0]


def test_a_mix_stays_on_one_platform_and_the_other_is_a_baseline(tmp_path: Path) -> None:
    from advisor import Catalog, Settings

    chat = {**CHAT, "tokens": {"input": 1000, "output": 130}, "instance_types": ["g5.xlarge", "g5.2xlarge"]}
    env = {"ADVISOR_HOME": str(tmp_path / "h")}
    runs = {}
    for platforms in (["sagemaker"], ["ec2"], ["ec2", "sagemaker"]):
        path = _write(tmp_path, {"name": "p", "platforms": platforms, "models": [chat]})
        out = run_cli("recommend", str(path), "--json", "--no-store", env=env)
        assert out.code == 0, out.stderr
        runs[tuple(platforms)] = Recommendation.model_validate(json.loads(out.stdout)).llm_models[0]
    sm, ec2, both = runs[("sagemaker",)], runs[("ec2",)], runs[("ec2", "sagemaker")]
    catalog = Catalog.load(Settings())
    assert sm.platform == "sagemaker" and all(g.instance_type.startswith("ml.") for g in sm.groups)
    for g in sm.groups:
        assert g.usd_per_hour == catalog.sagemaker("us-east-1", g.instance_type).usd_per_hour
    assert ec2.platform == "ec2" and not any(g.instance_type.startswith("ml.") for g in ec2.groups)
    assert both.usd_per_month == pytest.approx(min(sm.usd_per_month, ec2.usd_per_month))
    other = "sagemaker" if both.platform == "ec2" else "ec2"
    assert next(b for b in both.baselines if b.name == other).usd_per_month == pytest.approx(
        max(sm.usd_per_month, ec2.usd_per_month)
    )


def test_bench_suggest_names_the_shape_and_bucket_with_the_most_uncertain_spend(tmp_path: Path) -> None:
    chat = {**CHAT, "tokens": {"input": 1000, "output": 130}, "instance_types": ["g5.xlarge", "g6e.xlarge"]}
    env = {"ADVISOR_HOME": str(tmp_path / "h")}
    path = _write(tmp_path, {"name": "s", "models": [chat]})
    rec = Recommendation.model_validate(json.loads(run_cli("recommend", str(path), "--json", env=env).stdout))
    out = run_cli("bench", "suggest", "--model", "chat", "--json", env=env)
    assert out.code == 0, out.stderr
    doc = json.loads(out.stdout)
    rows = doc["suggestions"]
    assert doc["recommendation"] == rec.id and rows
    at_risk = [r["usd_at_risk_per_month"] for r in rows]
    assert at_risk == sorted(at_risk, reverse=True)
    m = rec.llm_models[0]
    types = {g.instance_type for g in m.groups}
    for r in rows:
        assert r["instance_type"] in types and r["method"] == "prior" and r["band"] > 0
        assert r["usd_at_risk_per_month"] == pytest.approx(r["usd_per_month"] * r["band"])
    # the spend the suggestions carry is the plan's
    assert sum(r["usd_per_month"] for r in rows) == pytest.approx(m.usd_per_month)
    table = run_cli("bench", "suggest", "--model", "chat", env=env)
    assert "What to measure next for chat" in table.stdout and rows[0]["bucket"] in table.stdout
    # the command it suggests runs as written: every flag is one of `bench run`'s, the shape is the first
    # row's and the SLO the model's (a run under a looser SLO would not count as evidence)
    said = " ".join(table.stdout.split())
    command = re.search(r"`advisor bench run ([^`]*)`", said)
    assert command is not None, said
    words = command.group(1).split()
    flags = {w for w in words if w.startswith("--")}
    assert flags <= _options("bench", "run"), flags - _options("bench", "run")
    value = dict(itertools.pairwise(words))
    assert value["--model"] == "chat" and value["--shapes"] == rows[0]["instance_type"]
    assert float(value["--slo-ttft-p99-ms"]) == m.slo_ttft_p99_ms
    assert float(value["--slo-tpot-p99-ms"]) == m.slo_tpot_p99_ms


def _options(*command: str) -> set[str]:
    """The long option names of an ``advisor`` subcommand."""
    import typer

    from advisor.cli.app import app

    cmd = typer.main.get_command(app)
    for name in command:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    return {o for param in cmd.params for o in param.opts if o.startswith("--")}


def test_reports_carry_the_language_model_and_add_up_to_the_totals(tmp_path: Path) -> None:
    import datetime as dt

    from advisor.render.report import build_report
    from advisor.scenario.reports import FLEET, ReportsConfig

    demo = yaml.safe_load(DEMO.read_text())
    chat = {**CHAT, "tokens": {"input": 1000, "output": 130}, "instance_types": ["g5.xlarge", "g6e.xlarge"]}
    demo["models"].append(chat)
    path = tmp_path / "demo-scenario.yaml"
    path.write_text(yaml.safe_dump(demo, sort_keys=False))
    for extra in (REPO_ROOT / "examples").iterdir():
        if extra.is_file() and extra.name != path.name:
            (tmp_path / extra.name).write_bytes(extra.read_bytes())
    out = run_cli("recommend", str(path), "--json", "--no-store", env={"ADVISOR_HOME": str(tmp_path / "h")})
    rec = Recommendation.model_validate(json.loads(out.stdout))
    period = (dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 8, tzinfo=dt.UTC))
    fleet = build_report(rec, FLEET, ReportsConfig(), previous=None, applied=[], period=period)
    assert fleet.projected_usd == pytest.approx(rec.totals.recommended_usd_per_month)
    assert fleet.today_usd == pytest.approx(rec.totals.current_usd_per_month)
    assert sum(lv.usd_per_month for lv in fleet.levers if lv.in_total) == pytest.approx(
        fleet.today_usd - fleet.projected_usd  # type: ignore[operator]
    )
    assert sum(usd for _t, usd, _today in fleet.teams) == pytest.approx(fleet.projected_usd)
    team = build_report(rec, "assistants", ReportsConfig(), previous=rec, applied=[], period=period)
    (line,) = team.models
    llm = rec.llm_models[0]
    assert line.model == "chat" and line.recommended_usd == pytest.approx(llm.effective_usd_per_month)
    assert f"${llm.tokens.usd_per_m_blended:,.3f}/M tokens" in line.plan
    assert team.changes[0].reasons[0].startswith("$/M blended tokens")


def test_a_rise_in_dollars_per_million_tokens_raises_an_alert(tmp_path: Path) -> None:
    import datetime as dt

    from advisor.render.report import build_report
    from advisor.scenario.reports import AlertRules, ReportsConfig

    chat = {**CHAT, "tokens": {"input": 1000, "output": 130}, "instance_types": ["g5.xlarge", "g6e.xlarge"]}
    env = {"ADVISOR_HOME": str(tmp_path / "h")}
    recs = []
    for peak in (6, 2):  # less traffic on the same instances floor: more dollars per token
        traffic = {"profile": "diurnal-business-api", "peak_rps": peak}
        path = _write(
            tmp_path,
            {"name": "alert", "models": [{**chat, "traffic": traffic}]},
        )
        recs.append(
            Recommendation.model_validate(
                json.loads(run_cli("recommend", str(path), "--json", "--no-store", env=env).stdout)
            )
        )
    before, after = recs
    was, now = before.llm_models[0].tokens.usd_per_m_blended, after.llm_models[0].tokens.usd_per_m_blended
    assert was is not None and now is not None and now > was * 1.1
    period = (dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 8, tzinfo=dt.UTC))
    report = build_report(after, "assistants", ReportsConfig(), previous=before, applied=[], period=period)
    (alert,) = [a for a in report.alerts if a.kind == "usd_per_m_tokens"]
    assert alert.message.startswith("chat: $/M blended tokens +") and f"${now:,.3f}" in alert.message
    quiet = ReportsConfig(alerts=AlertRules(usd_per_m_tokens_rise_pct=10_000))
    assert not [
        a
        for a in build_report(after, "assistants", quiet, previous=before, applied=[], period=period).alerts
        if a.kind == "usd_per_m_tokens"
    ]
    back = build_report(before, "assistants", ReportsConfig(), previous=after, applied=[], period=period)
    assert not [a for a in back.alerts if a.kind == "usd_per_m_tokens"]  # a fall is no alert


def test_the_llm_demo_without_a_bench_uses_the_given_capacities(tmp_path: Path) -> None:
    """examples/demo-llm.yaml before any measurement: CPU instances the prior does not model, served at the
    capacities given by hand, in $/M tokens."""
    out = run_cli(
        "recommend", str(REPO_ROOT / "examples" / "demo-llm.yaml"), "--json", "--no-store",
        env={"ADVISOR_HOME": str(tmp_path / "h")},
    )  # fmt: skip
    assert out.code == 0, out.stderr
    (chat,) = Recommendation.model_validate(json.loads(out.stdout)).llm_models
    assert {g.instance_type for g in chat.groups} <= {"c7a.medium", "c7a.large", "c7a.xlarge"}
    for g in chat.groups:
        assert (
            g.device == "cpu" and g.capacity_method == "given" and g.capacity_band == {"64 in x 32 out": 0.0}
        )
    given = {"c7a.medium": 20, "c7a.large": 40, "c7a.xlarge": 80}
    assert all(list(g.capacity_rps_per_instance.values()) == [given[g.instance_type]] for g in chat.groups)
    assert "3 given" in chat.notes[0] and chat.tokens.usd_per_m_blended is not None


def test_a_bench_shape_larger_than_this_machine_is_refused_before_anything_starts(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO_ROOT / "examples" / "demo-llm.yaml").read_text())
    data["models"][0]["bench_shapes"] = ["c7a.48xlarge"]
    data["models"][0]["llm"]["config"] = str(REPO_ROOT / "examples" / "tiny-llm-config.json")
    path = _write(tmp_path, data)
    out = run_cli("recommend", str(path), "--bench", "--no-store", env={"ADVISOR_HOME": str(tmp_path / "h")})
    assert_one_line_error(
        out, "models.0.bench_shapes.0", "c7a.48xlarge has 192 vCPUs", "pick a smaller shape"
    )
