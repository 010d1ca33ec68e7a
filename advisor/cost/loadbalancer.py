"""Load balancer capacity units (ALB LCUs, NLB NLCUs) estimated from the request rate.

AWS bills a load balancer per hour plus per capacity unit-hour, where the units in an hour are those of the
dimension with the highest usage. Dimensions per unit (Elastic Load Balancing pricing page, as summarised at
https://handbook.vantage.sh/aws/services/elb-pricing, which ``pricing_data/SOURCES.md`` cites):

- ALB (LCU): 25 new connections/s; 3,000 active connections (per minute); 1 GB processed per hour for
  EC2/IP targets; 1,000 rule evaluations/s, where rule evaluations = request rate × (rules processed − 10
  free rules).
- NLB (NLCU, TCP): 800 new connections/s; 100,000 active connections; 1 GB processed per hour.

Estimate. With a plan's traffic facts (payload sizes, new connections per request — 1 without keep-alive
—, connection lifetime, rules per request) every dimension is proportional to the request rate r:
new connections/s = r·n, active connections = r·n·lifetime (Little's law), GB/h = r·(request + response
bytes)·3600/10⁹ (decimal GB; GiB would lower this dimension by 7 %), rule evaluations/s =
r·max(0, rules − 10). So units(t) = r(t) × (the largest per-rps coefficient), and the unit-hours of a
profile are that coefficient × requests ÷ 3600. Shared load balancers: each model pays 1/shared_by of the
hourly fee and its own units.
"""

from __future__ import annotations

import functools

from advisor.recommendation.plan import LoadBalancerKind, LoadBalancerSpec

ALB_NEW_CONNECTIONS_PER_S = 25.0
ALB_ACTIVE_CONNECTIONS = 3000.0
ALB_GB_PER_HOUR = 1.0
ALB_RULE_EVALUATIONS_PER_S = 1000.0
ALB_FREE_RULES = 10
NLB_NEW_CONNECTIONS_PER_S = 800.0
NLB_ACTIVE_CONNECTIONS = 100_000.0
NLB_GB_PER_HOUR = 1.0
BYTES_PER_GB = 1e9


def units_per_rps(spec: LoadBalancerSpec) -> dict[str, float]:
    """Capacity units per request/s along each billing dimension (the largest is billed)."""
    if spec.kind is LoadBalancerKind.NONE:
        return {}
    new_conn = spec.new_connections_per_request
    gb_per_hour_per_rps = (spec.request_kib + spec.response_kib) * 1024.0 * 3600.0 / BYTES_PER_GB
    if spec.kind is LoadBalancerKind.NETWORK:
        return {
            "new_connections": new_conn / NLB_NEW_CONNECTIONS_PER_S,
            "active_connections": new_conn * spec.connection_duration_s / NLB_ACTIVE_CONNECTIONS,
            "processed_bytes": gb_per_hour_per_rps / NLB_GB_PER_HOUR,
        }
    return {
        "new_connections": new_conn / ALB_NEW_CONNECTIONS_PER_S,
        "active_connections": new_conn * spec.connection_duration_s / ALB_ACTIVE_CONNECTIONS,
        "processed_bytes": gb_per_hour_per_rps / ALB_GB_PER_HOUR,
        "rule_evaluations": max(0, spec.rules_evaluated_per_request - ALB_FREE_RULES)
        / ALB_RULE_EVALUATIONS_PER_S,
    }


@functools.lru_cache(maxsize=1024)
def lcu_per_rps(spec: LoadBalancerSpec) -> tuple[float, str]:
    """(capacity units per request/s, the dimension that sets it); (0, "none") without a load balancer.
    Kept per spec (frozen): every replayed plan asks."""
    dims = units_per_rps(spec)
    if not dims:
        return 0.0, "none"
    dimension = max(dims, key=lambda k: dims[k])
    return dims[dimension], dimension


def lcu_hours(spec: LoadBalancerSpec, requests: float) -> float:
    """Unit-hours to carry ``requests`` requests, whatever their timing (units are linear in rate)."""
    coefficient, _ = lcu_per_rps(spec)
    return coefficient * requests / 3600.0
