"""Deferred plans: the floor under a plan's cost holds, and the search's answer is the one it gives when every
plan is replayed."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.cost.replay.load import OVERLOAD_SLACK
from advisor.domain import Platform
from advisor.optimize import fleet_type_names, synthetic_fleet
from advisor.optimize.executor import ExecutorSpec, plan_all
from advisor.optimize.recommend import model_context
from advisor.optimize.rightsize import search
from advisor.optimize.rightsize.deferral import Deferred, Found, NeedCurve
from advisor.optimize.rightsize.outcome import Served
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings


@settings(max_examples=80, deadline=None)
@given(
    demand=st.lists(st.floats(0.0, 400.0), min_size=1, max_size=40),
    capacity=st.floats(1.0, 60.0),
    rpn=st.integers(1, 4),
    overload=st.integers(0, 6),
    min_nodes=st.integers(0, 30),
)
def test_the_need_curve_counts_the_fewest_node_steps_a_plan_within_budget_runs(
    demand: list[float], capacity: float, rpn: int, overload: int, min_nodes: int
) -> None:
    rps = np.array(demand)
    curve = NeedCurve(rps, capacity, rpn, overload)
    # Brute force: every step at least the minimum and the nodes its demand needs (ready capacity at least
    # the demand, with the replay's slack), but for the `overload` steps where skipping the need saves most.
    need = np.ceil(np.ceil(rps / (capacity * (1 + OVERLOAD_SLACK)) * (1 - 1e-6)) / rpn - 1e-9)
    steps = np.maximum(need, min_nodes)
    saved = np.sort(steps - min_nodes)[::-1][: min(overload, rps.size)]
    assert curve.node_steps(min_nodes) == pytest.approx(float(steps.sum() - saved.sum()), abs=1e-9)
    assert curve.node_steps(min_nodes) >= min_nodes * rps.size - 1e-9


# ----- Found against replaying everything, on stand-in plans ---------------------------------------


@dataclass(frozen=True)
class _Cand:
    key: tuple[str, str]


@dataclass(frozen=True)
class _Plan:
    id: int
    platform: Platform


@dataclass(frozen=True)
class _Job:
    candidate: _Cand


@dataclass(frozen=True)
class _Screened:
    candidate: _Cand
    plan: _Plan
    usd_per_month: float
    within_budget: bool


def _id(entry: Any) -> int:
    return int(entry.plan.id)


_PLATFORMS = [Platform.EC2, Platform.SAGEMAKER, Platform.FARGATE]


@st.composite
def _batches(draw: Any) -> list[list[tuple[int, int, float, float, bool]]]:
    """Batches of (plan id, candidate, floor, cost, within budget); costs on a coarse grid, so ties happen."""
    out: list[list[tuple[int, int, float, float, bool]]] = []
    pid = 0
    for _ in range(draw(st.integers(1, 4))):
        batch = []
        for _ in range(draw(st.integers(0, 14))):
            cost = float(draw(st.integers(1, 30)))
            floor = cost - float(draw(st.integers(0, 12)))
            batch.append((pid, draw(st.integers(0, 9)), floor, cost, draw(st.booleans())))
            pid += 1
        out.append(batch)
    return out


def _run(batches: list[list[tuple[int, int, float, float, bool]]], fails: set[int], defer: bool) -> list[Any]:
    """What a search reads off ``Found``: the stages' top candidates, then the finish's walks (confirmations
    of the plans in ``fails`` fail) and a walk over every plan within budget, as plan ids; then the plans
    replayed and the replays."""
    truth = {pid: (cand, floor, cost, ok) for batch in batches for pid, cand, floor, cost, ok in batch}
    replayed: list[int] = []

    def replay(ready: list[tuple[Any, Any]]) -> list[Any]:
        out = []
        for plan, job in ready:
            replayed.append(plan.id)
            _, _, cost, ok = truth[plan.id]
            out.append(_Screened(job.candidate, plan, cost, ok))
        return out

    def floor(plan: Any, job: Any) -> float:
        return truth[plan.id][1]

    found = Found(cast(Any, replay), 3, cast(Any, floor), defer=defer)
    seen_top: list[list[int]] = []
    for batch in batches:
        found.add(
            [
                (cast(Any, _Plan(pid, _PLATFORMS[cand % 3])), cast(Any, _Job(_Cand(("c", str(cand))))))
                for pid, cand, *_ in batch
            ]
        )
        for k in range(1, 7):  # up to past what deferral keeps (3), where plans must be settled
            seen_top.append([_id(e) for e in found.ranked(k)])
            seen_top.append([_id(e) for e in found.ranked(k, where=lambda c: c.key[1] in "0247")])
    walked: list[int] = []
    seen: set[tuple[str, str]] = set()
    for ev in found.walk(lambda d: d.candidate.key not in seen):
        if ev.candidate.key in seen:
            continue  # (a plan the finish passes over: it may stay deferred)
        walked.append(_id(ev))
        if _id(ev) in fails:
            continue
        seen.add(ev.candidate.key)
        if len(seen) >= 3:
            break
    shown = {_PLATFORMS[int(key[1]) % 3] for key in seen}
    for ev in found.walk(lambda d: d.plan.platform not in shown and d.candidate.key not in seen):
        if ev.plan.platform in shown or ev.candidate.key in seen:
            continue
        walked.append(_id(ev))
        if _id(ev) not in fails:
            seen.add(ev.candidate.key)
            shown.add(ev.plan.platform)
    everything = [_id(ev) for ev in found.walk(lambda d: True)]  # every plan within budget, in order
    return [seen_top, walked, everything, len(set(replayed)), len(replayed)]


@settings(max_examples=300, deadline=None)
@given(batches=_batches(), fails=st.sets(st.integers(0, 40), max_size=6))
def test_deferred_plans_change_nothing_a_search_reads(
    batches: list[list[tuple[int, int, float, float, bool]]], fails: set[int]
) -> None:
    every = _run(batches, fails, defer=False)
    lazy = _run(batches, fails, defer=True)
    assert lazy[:3] == every[:3]  # the same tops at every stage, the same walks, in the same order
    assert lazy[4] == lazy[3]  # no plan replayed twice


def test_a_plan_is_deferred_only_above_what_could_still_be_shown() -> None:
    # Candidate 0 has a plan within budget at 10: its own plans with a floor above 10 wait.
    batches = [[(0, 0, 10.0, 10.0, True)], [(1, 0, 11.0, 12.0, True), (2, 0, 9.0, 9.5, False)]]
    truth = {pid: (floor, cost, ok) for batch in batches for pid, _, floor, cost, ok in batch}

    def replay(ready: list[tuple[Any, Any]]) -> list[Any]:
        return [_Screened(j.candidate, p, truth[p.id][1], truth[p.id][2]) for p, j in ready]

    found = Found(cast(Any, replay), 3, cast(Any, lambda p, j: truth[p.id][0]), defer=True)
    for batch in batches:
        found.add(
            [(cast(Any, _Plan(pid, Platform.EC2)), cast(Any, _Job(_Cand(("c", "0"))))) for pid, *_ in batch]
        )
    assert [type(e).__name__ for e in found.entries] == ["_Screened", "Deferred", "_Screened"]
    assert found.deferred == 1
    deferred = found.entries[1]
    assert isinstance(deferred, Deferred) and deferred.floor_usd_per_month == 11.0
    # A walk that wants every plan reaches past 10 and replays it, in its place.
    assert [_id(e) for e in found.walk(lambda d: True)] == [0, 1]
    assert found.deferred == 0 and math.isclose(cast(Any, found.entries[1]).usd_per_month, 12.0)


# ----- the real search, deferral on and off ---------------------------------------------------------


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return Catalog.load(Settings(home=tmp_path_factory.mktemp("home")))


def test_the_search_recommends_the_same_with_fewer_replays(
    catalog: Catalog, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seeded benchmark fleet's first models (spiky profiles, shapes rescued by raised minimums among
    them): every model's plan and alternatives, figures included, are those of a search that replays all;
    and no plan within budget that the search replays costs less than its floor."""
    under_floor: list[str] = []
    checked = [0]

    class Checked(Found):
        def __init__(self, replay: Any, keep: int, floor: Any, *, defer: bool) -> None:
            def checking(ready: list[Any]) -> list[Any]:
                out: list[Any] = replay(ready)
                for (plan, job), screened in zip(ready, out, strict=True):
                    if screened.within_budget:
                        checked[0] += 1
                        if floor(plan, job) > screened.usd_per_month:
                            under_floor.append(plan.name)
                return out

            super().__init__(checking, keep, floor, defer=defer)

    monkeypatch.setattr(search, "Found", Checked)
    fleet = synthetic_fleet(catalog, 200, fleet_type_names(catalog, 300), 0)
    fleet = fleet.model_copy(update={"models": fleet.models[:16]})
    ctx = model_context(fleet, catalog, Settings(home=tmp_path))
    lazy = plan_all(ctx, ExecutorSpec(workers=1)).outcomes
    every_ctx = dataclasses.replace(ctx, search=dataclasses.replace(ctx.search, defer=False))
    every = plan_all(every_ctx, ExecutorSpec(workers=1)).outcomes

    def answer(o: Any) -> Any:
        assert isinstance(o, Served)
        return [
            (e.plan.model_dump_json(), e.usd_per_month, e.minutes_over_slo_pct, e.seeds, e.pool_reclaims)
            for e in [o.best, *o.alternatives]
        ]

    assert [answer(o) for o in lazy] == [answer(o) for o in every]
    replays = [o.plans_replayed for o in lazy], [o.plans_replayed for o in every]
    assert all(a <= b for a, b in zip(*replays, strict=True))
    assert sum(replays[0]) < sum(replays[1])
    assert checked[0] > 50 and not under_floor
