"""The per-step time series of one replayed plan: what ``CostResult.timeseries()`` returns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from advisor.capacity.queueing import P99_TAIL
from advisor.cost.replay.engine import Outcome, PlanSetup
from advisor.traffic.profile import TrafficProfile


def series_frame(setup: PlanSetup, profile: TrafficProfile, outcome: Outcome) -> pd.DataFrame:
    """The per-step time series of one replayed plan (``outcome`` from ``replay(..., keep_series=True)``).

    ``usd_per_hour`` is the running rate (nodes by purchase option, the load balancer's share and units);
    spot-interruption overheads (notice overlap, fallback premium) are one-off amounts in the totals only.
    """
    assert outcome.series is not None
    s = outcome.series
    plan, prices = setup.plan, setup.prices
    cap = plan.capacity.rps_per_replica
    late = np.asarray(s["late_share"], dtype=np.float64)
    p99 = np.where(late >= P99_TAIL, np.inf, setup.queue.p99_table()[s["load_bin"]])
    over = late + (1.0 - late) * setup.queue.tail_table(plan.slo.latency_p99_ms)[s["load_bin"]]
    lb = plan.effective_load_balancer
    usd_per_hour = (
        np.asarray(s["nodes_on_demand"], dtype=np.float64) * prices.on_demand_usd_per_node_hour
        + np.asarray(s["nodes_spot"], dtype=np.float64) * prices.spot_usd_per_node_hour
        + prices.load_balancer_usd_per_hour / lb.shared_by
        + profile.rps * setup.lcu_per_rps * prices.load_balancer_usd_per_lcu_hour
        + profile.rps * 3600.0 * prices.data_usd_per_request(lb)
    )
    provisioned = np.asarray(s["provisioned_replicas"], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilisation = np.where(provisioned > 0, profile.rps / (provisioned * cap), np.nan)
    return pd.DataFrame(
        {
            "demand_rps": profile.rps,
            "held_demand_rps": s["held_demand_rps"],
            "desired_replicas": s["desired_replicas"],
            "provisioned_replicas": provisioned,
            "ready_replicas": s["ready_replicas"],
            "lost_replicas": s["lost_replicas"],
            "backlog_requests": s["backlog_requests"],
            "nodes": s["nodes"],
            "nodes_on_demand": s["nodes_on_demand"],
            "nodes_spot": s["nodes_spot"],
            "capacity_rps": np.asarray(s["ready_replicas"], dtype=np.float64) * cap,
            "utilisation": utilisation,
            "overloaded": s["overloaded"],
            "p99_ms": p99,
            "share_over_slo": over,
            "late_share": late,
            "usd_per_hour": usd_per_hour,
        },
        index=profile.index,
    )
