"""Application Auto Scaling, as SageMaker variants and ECS services use it: scalable target, target
tracking policy and scheduled actions, read, desired and changed the same way for both.

The part of the state this module owns::

    ScalableTarget:  {MinCapacity, MaxCapacity}
    TargetTracking:  {PolicyName, PredefinedMetricType, ResourceLabel?, TargetValue, ScaleInCooldown,
                      ScaleOutCooldown}
    ScheduledActions: {advisor-<model>-<n>-start|end: {Schedule, Timezone, MinCapacity}}

Only policies and scheduled actions named ``advisor-…`` are advisor's; others on the same resource are
left alone. A schedule of the recommendation becomes two scheduled actions: the minimum rises at
``start`` and falls back at ``end`` (Application Auto Scaling User Guide, "Scheduled scaling").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from advisor.apply.aws.clients import AwsSession, aws_cron, call
from advisor.apply.base import Intent, Refused, State, Step
from advisor.recommendation.scaling import ScheduledMinimum

POLICY_NAME = "advisor-target-tracking"
# Scale-out cooldown (s): how long target tracking waits after a scale-out before the next one counts the
# new capacity. 60 s lets a second step follow within the replay's scale-up delay; AWS's default is 300 s
# for SageMaker variants and ECS services (Application Auto Scaling User Guide, "Cooldown period").
SCALE_OUT_COOLDOWN_S = 60


@dataclass(frozen=True)
class Resource:
    """One scalable resource, e.g. ``sagemaker``, ``endpoint/E/variant/V``,
    ``sagemaker:variant:DesiredInstanceCount``."""

    namespace: str
    resource_id: str
    dimension: str


def read(session: AwsSession, res: Resource, model: str) -> State:
    """The scalable target, advisor's policy and advisor's scheduled actions of ``res`` (absent: None)."""
    aas, region = session.client("application-autoscaling"), session.region
    key = {"ServiceNamespace": res.namespace, "ScalableDimension": res.dimension}
    targets = call(
        "application-autoscaling:DescribeScalableTargets",
        region,
        aas.describe_scalable_targets,
        ResourceIds=[res.resource_id],
        **key,
    )["ScalableTargets"]
    policies = call(
        "application-autoscaling:DescribeScalingPolicies",
        region,
        aas.describe_scaling_policies,
        ResourceId=res.resource_id,
        **key,
    )["ScalingPolicies"]
    actions = call(
        "application-autoscaling:DescribeScheduledActions",
        region,
        aas.describe_scheduled_actions,
        ResourceId=res.resource_id,
        **key,
    )["ScheduledActions"]
    state: State = {"ScalableTarget": None, "TargetTracking": None, "ScheduledActions": {}}
    if targets:
        state["ScalableTarget"] = {k: int(targets[0][k]) for k in ("MinCapacity", "MaxCapacity")}
    prefix = f"advisor-{model}-"
    # not advisor's: kept, and never compared
    state["_other_policies"] = [p["PolicyName"] for p in policies if p["PolicyName"] != POLICY_NAME]
    state["_other_actions"] = [
        a["ScheduledActionName"] for a in actions if not a["ScheduledActionName"].startswith(prefix)
    ]
    for p in policies:
        if p["PolicyName"] == POLICY_NAME:
            state["TargetTracking"] = _tracking_state(p["TargetTrackingScalingPolicyConfiguration"])
    for a in actions:
        if a["ScheduledActionName"].startswith(prefix) and res.resource_id == a["ResourceId"]:
            state["ScheduledActions"][a["ScheduledActionName"]] = {
                "Schedule": a["Schedule"],
                "Timezone": a.get("Timezone", "UTC"),
                "MinCapacity": int(a.get("ScalableTargetAction", {}).get("MinCapacity", 0)),
            }
    return state


def _tracking_state(config: dict[str, Any]) -> dict[str, Any]:
    spec = config.get("PredefinedMetricSpecification", {})
    out = {
        "PolicyName": POLICY_NAME,
        "PredefinedMetricType": spec.get("PredefinedMetricType"),
        "ResourceLabel": spec.get("ResourceLabel"),
        "TargetValue": round(float(config["TargetValue"]), 3),
        "ScaleInCooldown": int(config.get("ScaleInCooldown", 0)),
        "ScaleOutCooldown": int(config.get("ScaleOutCooldown", 0)),
    }
    return out


def refuse_others(live: State, intent_force: bool, what: str) -> None:
    """Refused when scaling policies advisor did not make act on the resource: two target-tracking
    policies on one resource both scale it (scale-out by whichever asks most, scale-in only when all
    agree), so advisor's target would not be the one in force."""
    others = live.get("_other_policies") or []
    if others and not intent_force:
        raise Refused(
            f"{what} has scaling policies advisor did not make ({', '.join(others)}), which would act "
            "beside advisor's target tracking",
            fix="delete them, or pass --force to add advisor's policy beside them",
        )


def desired(
    *,
    model: str,
    min_capacity: int,
    max_capacity: int,
    metric: str,
    target_value: float,
    scale_in_cooldown_s: float,
    schedules: Sequence[ScheduledMinimum],
    units_of: Any = int,
    resource_label: str | None = None,
) -> State:
    """The state a recommendation asks for; ``units_of(replicas)`` converts a replica count to capacity."""
    actions: dict[str, Any] = {}
    for n, s in enumerate(schedules, start=1):
        actions[f"advisor-{model}-{n}-start"] = {
            "Schedule": aws_cron(s.start),
            "Timezone": s.timezone,
            "MinCapacity": min(max_capacity, int(units_of(s.min_replicas))),
        }
        actions[f"advisor-{model}-{n}-end"] = {
            "Schedule": aws_cron(s.end),
            "Timezone": s.timezone,
            "MinCapacity": min_capacity,
        }
    return {
        "ScalableTarget": {"MinCapacity": min_capacity, "MaxCapacity": max_capacity},
        "TargetTracking": {
            "PolicyName": POLICY_NAME,
            "PredefinedMetricType": metric,
            "ResourceLabel": resource_label,
            "TargetValue": round(float(target_value), 3),
            "ScaleInCooldown": round(scale_in_cooldown_s),
            "ScaleOutCooldown": SCALE_OUT_COOLDOWN_S,
        },
        "ScheduledActions": actions,
    }


def for_deployment(
    intent: Intent,
    min_capacity: int,
    max_capacity: int,
    *,
    replicas_per_unit: int = 1,
    resource_label: str | None = None,
) -> State:
    """:func:`desired` from a model's deployment section: its metric, target, scale-in stabilisation and
    schedules; a capacity unit (a SageMaker instance) holds ``replicas_per_unit`` replicas."""
    d = intent.deployment
    per = max(1, replicas_per_unit)
    return desired(
        model=intent.name,
        min_capacity=min_capacity,
        max_capacity=max_capacity,
        metric=d.scaling_metric.name,
        target_value=d.scaling_metric.target_value,
        scale_in_cooldown_s=d.scale_down_stabilisation_s,
        schedules=d.schedules,
        units_of=lambda replicas: -(-replicas // per),
        resource_label=resource_label,
    )


def steps(session: AwsSession, res: Resource, now: State, want: State) -> list[Step]:
    """Register the target, then the policy, then scheduled actions (stale ones deleted last)."""
    aas, region = session.client("application-autoscaling"), session.region
    key = {
        "ServiceNamespace": res.namespace,
        "ResourceId": res.resource_id,
        "ScalableDimension": res.dimension,
    }
    out: list[Step] = []
    target = want.get("ScalableTarget")
    if target and target != now.get("ScalableTarget"):
        out.append(
            Step(
                f"register scalable target {res.resource_id} min {target['MinCapacity']} max "
                f"{target['MaxCapacity']}",
                lambda: call(
                    "application-autoscaling:RegisterScalableTarget",
                    region,
                    aas.register_scalable_target,
                    **key,
                    **target,
                ),
            )
        )
    out += _policy_steps(session, key, now.get("TargetTracking"), want.get("TargetTracking"))
    have, wanted = now.get("ScheduledActions") or {}, want.get("ScheduledActions") or {}
    for name, action in wanted.items():
        if have.get(name) != action:
            out.append(
                Step(
                    f"scheduled action {name}: {action['Schedule']} ({action['Timezone']}) min "
                    f"{action['MinCapacity']}",
                    _put_action(session, key, name, action),
                )
            )
    for name in have:
        if name not in wanted:
            out.append(
                Step(
                    f"delete scheduled action {name}",
                    partial(
                        call,
                        "application-autoscaling:DeleteScheduledAction",
                        region,
                        aas.delete_scheduled_action,
                        ScheduledActionName=name,
                        **key,
                    ),
                )
            )
    if not target and now.get("ScalableTarget"):
        out.append(
            Step(
                f"deregister scalable target {res.resource_id}",
                lambda: call(
                    "application-autoscaling:DeregisterScalableTarget",
                    region,
                    aas.deregister_scalable_target,
                    **key,
                ),
            )
        )
    return out


def _policy_steps(
    session: AwsSession, key: dict[str, str], now: dict[str, Any] | None, want: dict[str, Any] | None
) -> list[Step]:
    aas, region = session.client("application-autoscaling"), session.region
    if want == now:
        return []
    if want is None:
        return [
            Step(
                f"delete scaling policy {POLICY_NAME}",
                lambda: call(
                    "application-autoscaling:DeleteScalingPolicy",
                    region,
                    aas.delete_scaling_policy,
                    PolicyName=POLICY_NAME,
                    **key,
                ),
            )
        ]
    spec: dict[str, Any] = {"PredefinedMetricType": want["PredefinedMetricType"]}
    if want.get("ResourceLabel"):
        spec["ResourceLabel"] = want["ResourceLabel"]
    config = {
        "TargetValue": want["TargetValue"],
        "PredefinedMetricSpecification": spec,
        "ScaleInCooldown": want["ScaleInCooldown"],
        "ScaleOutCooldown": want["ScaleOutCooldown"],
    }
    return [
        Step(
            f"target tracking {want['PredefinedMetricType']} at {want['TargetValue']:g}",
            lambda: call(
                "application-autoscaling:PutScalingPolicy",
                region,
                aas.put_scaling_policy,
                PolicyName=POLICY_NAME,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration=config,
                **key,
            ),
        )
    ]


def _put_action(session: AwsSession, key: dict[str, str], name: str, action: dict[str, Any]) -> Any:
    aas, region = session.client("application-autoscaling"), session.region

    def run() -> None:
        call(
            "application-autoscaling:PutScheduledAction",
            region,
            aas.put_scheduled_action,
            ScheduledActionName=name,
            Schedule=action["Schedule"],
            Timezone=action["Timezone"],
            ScalableTargetAction={"MinCapacity": action["MinCapacity"]},
            **key,
        )

    return run
