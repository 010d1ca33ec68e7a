"""Savings by lever in words, for every surface: the labels, one line per lever, and table rows.

The figures are the document's (:mod:`advisor.recommendation.levers`); nothing here adds them up except to
print the total the parts make (which the document's totals equal, to the cent).
"""

from __future__ import annotations

from collections.abc import Sequence

from advisor.recommendation.levers import IN_TOTAL, Lever, LeverSaving, total_saving
from advisor.recommendation.model import Recommendation
from advisor.render.numbers import MISSING, signed_usd, usd

LEVER_LABELS = {
    Lever.INSTANCE_TYPE: "Instance type and platform",
    Lever.AUTOSCALING: "Autoscaling and schedules",
    Lever.LOAD_BALANCER_SHARING: "Sharing load balancers",
    Lever.SPOT: "Spot",
    Lever.INSTANCE_SHARING: "Sharing instances (pooling)",
    Lever.COMMITMENT: "Savings Plan commitment (not in the totals)",
}
LEVER_HELP = {
    Lever.INSTANCE_TYPE: "today's deployment → the recommended platform and instance type, on-demand, "
    "a fixed count for the peak",
    Lever.AUTOSCALING: "→ the recommended autoscaling bounds, target and scheduled minimums",
    Lever.LOAD_BALANCER_SHARING: "→ the recommended load balancer (shared instead of the model's own)",
    Lever.SPOT: "→ the recommended spot share: the recommended plan",
    Lever.INSTANCE_SHARING: "the model's share of the shared node pools' saving",
    Lever.COMMITMENT: "the Savings Plan for the always-on base, bought apart",
}
METHOD = (
    "each lever is the cost before its step less the cost after it, the steps in a fixed order, each a "
    "replayed plan"
)


def lever_amount(part: LeverSaving) -> str:
    """``$1,780.71`` for a saving, ``−$12.30`` for a step that costs more."""
    return usd(part.usd_per_month) if part.usd_per_month >= -0.005 else signed_usd(part.usd_per_month)


def lever_lines(levers: Sequence[LeverSaving]) -> list[str]:
    """One line per lever (label, $/month, share of the saving), then the total; [] without levers."""
    if not levers:
        return []
    total = total_saving(levers)
    width = max(len(LEVER_LABELS[p.lever]) for p in levers)
    out = []
    for p in levers:
        share = f"  {p.usd_per_month / total:6.1%}" if p.in_total and abs(total) > 0.005 else ""
        out.append(f"{LEVER_LABELS[p.lever]:<{width}}  {lever_amount(p):>12}/month{share}")
        if p.lever is Lever.INSTANCE_SHARING:
            out.append(f"{'= saving against today':<{width}}  {usd(total):>12}/month")
    return out


def lever_table(rec: Recommendation) -> tuple[list[str], list[list[str]]]:
    """(header, rows): a row per model with a saving against today and the fleet's, a column per lever."""
    header = ["model", *(LEVER_LABELS[lv] for lv in IN_TOTAL), "saving vs today"]
    rows = []
    for m in rec.models:
        if not m.savings_by_lever:
            continue
        by = {p.lever: p for p in m.savings_by_lever}
        cells = [lever_amount(by[lv]) if lv in by else MISSING for lv in IN_TOTAL]
        rows.append([m.model, *cells, usd(total_saving(m.savings_by_lever))])
    fleet = {p.lever: p for p in rec.totals.savings_by_lever}
    if fleet:
        cells = [lever_amount(fleet[lv]) if lv in fleet else MISSING for lv in IN_TOTAL]
        rows.append(["**total**", *cells, usd(total_saving(rec.totals.savings_by_lever))])
    return header, rows
