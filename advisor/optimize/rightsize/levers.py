"""The lever steps of one model: from what runs today to the recommended plan, one replayed plan per lever.

:mod:`advisor.recommendation.levers` states the order and why. Here each step's plan is built from the
recommended plan and replayed over the model's profile, with the same prices and seed as every plan of the
run:

1. ``instance_type``: :func:`advisor.cost.baselines.static_peak_plan` of the recommended plan (its platform
   and shape, on-demand, a static count for the peak at the plan's target), behind today's load balancer;
2. ``autoscaling``: the recommended plan on-demand (its bounds, target and schedules), behind today's load
   balancer;
3. ``load_balancer_sharing``: the recommended plan on-demand, behind the recommended load balancer;
4. ``spot``: the recommended plan (its cost is the recommendation's; not replayed again).

*Today's load balancer* is what the current deployment is replayed behind (the scenario's, shared as its
``current.load_balancer`` says). A model moving off SageMaker, which has none, counts as getting one of its
own: sharing the fleet's instead is the third lever. Steps 1-3 are on-demand, so their replays do not
depend on the spot draws. The pooling share is added by the document (the fleet stage decides it).
"""

from __future__ import annotations

from advisor.cost.baselines import static_peak_plan
from advisor.cost.simulate import screen_many
from advisor.optimize.rightsize.compare import CurrentCost
from advisor.optimize.rightsize.pricecache import PriceCache
from advisor.optimize.rightsize.search_types import Confirmed
from advisor.recommendation.levers import Lever, LeverSaving
from advisor.recommendation.plan import LoadBalancerKind, Plan, PurchaseMix
from advisor.traffic.profile import TrafficProfile


def lever_steps(
    current: CurrentCost, best: Confirmed, profile: TrafficProfile, prices: PriceCache, *, seed: int
) -> tuple[LeverSaving, ...]:
    """The replayed steps from ``current`` to ``best`` (module docstring), without the pooling share."""
    plan = best.plan
    lb = plan.effective_load_balancer
    today_lb = lb
    if lb.kind is not LoadBalancerKind.NONE:
        today_lb = lb.model_copy(update={"shared_by": max(1, current.load_balancer_shared_by)})
    on_demand = plan.model_copy(update={"name": f"{plan.name} / on-demand", "purchase": PurchaseMix()})
    today = {"load_balancer": today_lb}
    static = static_peak_plan(plan, profile)
    steps: list[tuple[Lever, Plan]] = [
        (
            Lever.INSTANCE_TYPE,
            static.model_copy(update={**today, "name": f"{static.name}, today's balancer"}),
        ),
        (
            Lever.AUTOSCALING,
            on_demand.model_copy(update={**today, "name": f"{on_demand.name}, today's balancer"}),
        ),
        (Lever.LOAD_BALANCER_SHARING, on_demand),
    ]
    step_plans = [p for _, p in steps]
    # only each step's cost is shown: screened replays
    results = screen_many(step_plans, profile, [prices.prices(p) for p in step_plans], seed=seed)
    level = current.comparison.usd_per_month or 0.0
    out = []
    for (lever, step_plan), result in zip(steps, results, strict=True):
        out.append(
            LeverSaving(
                lever=lever,
                usd_per_month=level - result.usd_per_month,
                usd_per_month_after=result.usd_per_month,
                plan=step_plan,
            )
        )
        level = result.usd_per_month
    rec = best.usd_per_month
    out.append(LeverSaving(lever=Lever.SPOT, usd_per_month=level - rec, usd_per_month_after=rec))
    return tuple(out)
