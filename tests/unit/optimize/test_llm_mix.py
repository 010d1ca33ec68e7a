"""The LLM mix: Mélange's example solved to Mélange's answer, and the routing the plan hands a router."""

from __future__ import annotations

import pytest

from advisor.errors import InputError
from advisor.optimize.llm import MixCandidate, best_single, solve_mix

# tyler-griggs/melange-release at d46ab43855bcdbfed4740a42058d2e269374ea55, melange/config/example.json:
# GPU prices ($/h) and per-bucket max throughputs (requests/s), a 2 x 2 workload distribution, 30
# requests/s, slice factor 1. Its README reports the solver's answer:
# {"A10G": 3, "A100-80GB": 1, "cost": 6.7}.
MELANGE_GPUS = {"A10G": (1.01, [[2, 1], [5, 2]]), "A100-80GB": (3.67, [[20, 20], [40, 20]])}
MELANGE_SHARES = [[0.2, 0.1], [0.5, 0.2]]
MELANGE_RATE = 30.0


def _melange() -> tuple[dict[str, float], list[MixCandidate]]:
    cells = [(i, j) for i in range(2) for j in range(2)]
    rates = {f"{i}x{j}": MELANGE_SHARES[i][j] * MELANGE_RATE for i, j in cells}
    cands = [
        MixCandidate(name, price, {f"{i}x{j}": tputs[i][j] for i, j in cells})
        for name, (price, tputs) in MELANGE_GPUS.items()
    ]
    return rates, cands


def test_melanges_example_gives_melanges_answer() -> None:
    rates, cands = _melange()
    mix = solve_mix(rates, cands, slice_factor=1)
    assert mix.counts == {"A10G": 3, "A100-80GB": 1}
    assert mix.usd_per_hour == pytest.approx(6.70, abs=0.005)


@pytest.mark.parametrize("slice_factor", [1, 2, 4])
def test_the_mix_serves_every_bucket_within_its_instances(slice_factor: int) -> None:
    rates, cands = _melange()
    mix = solve_mix(rates, cands, slice_factor=slice_factor)
    by_name = {c.name: c for c in cands}
    for shares in mix.routing.values():
        assert sum(shares.values()) == pytest.approx(1.0)
    for name, count in mix.counts.items():
        load = sum(
            rates[b] * s / by_name[name].capacity_rps[b]
            for b, r in mix.routing.items()
            for n, s in r.items()
            if n == name
        )
        assert load == pytest.approx(mix.load[name]) and load <= count + 1e-9
    assert mix.usd_per_hour == pytest.approx(sum(by_name[n].usd_per_hour * c for n, c in mix.counts.items()))
    # finer slices can only help: the answer with 1 slice is a feasible answer with more
    assert mix.usd_per_hour <= solve_mix(rates, cands, slice_factor=1).usd_per_hour + 1e-9


def test_the_best_single_type_is_melanges_baseline_and_never_cheaper_than_the_mix() -> None:
    rates, cands = _melange()
    single = best_single(rates, cands)
    assert single is not None and single.counts == {"A100-80GB": 2}  # load 1.125 of one A100
    assert single.usd_per_hour == pytest.approx(7.34)
    assert solve_mix(rates, cands, slice_factor=4).usd_per_hour <= single.usd_per_hour


def test_a_candidate_never_gets_a_bucket_it_cannot_serve() -> None:
    cands = [
        MixCandidate("small", 1.0, {"short": 10.0, "long": 0.0}),
        MixCandidate("big", 5.0, {"short": 40.0, "long": 4.0}),
    ]
    mix = solve_mix({"short": 25.0, "long": 3.0}, cands, slice_factor=2)
    assert "small" not in mix.routing["long"]
    assert best_single({"short": 25.0, "long": 3.0}, cands).counts == {"big": 2}  # type: ignore[union-attr]
    with pytest.raises(InputError, match="no candidate serves bucket huge"):
        solve_mix({"huge": 1.0}, cands)
    assert solve_mix({"short": 0.0}, cands).counts == {}


def test_keeping_the_cheapest_candidates_per_bucket_never_loses_to_the_best_single_type() -> None:
    rates, cands = _melange()
    full = solve_mix(rates, cands, slice_factor=4, per_bucket=None)
    for keep in (1, 2):
        pruned = solve_mix(rates, cands, slice_factor=4, per_bucket=keep)
        single = best_single(rates, cands)
        assert single is not None and full.usd_per_hour <= pruned.usd_per_hour <= single.usd_per_hour + 1e-9
    assert solve_mix(rates, cands, slice_factor=1, per_bucket=2).counts == {"A10G": 3, "A100-80GB": 1}
