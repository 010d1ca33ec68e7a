"""The EC2 Auto Scaling group applier: a self-managed group, ECS on EC2 or an EKS managed node group.

What it owns of a group (the state, in the Auto Scaling API's names)::

    MinSize, MaxSize
    MixedInstancesPolicy: LaunchTemplate.Overrides [{InstanceType, WeightedCapacity}],
                          InstancesDistribution {OnDemandBaseCapacity,
                          OnDemandPercentageAboveBaseCapacity, SpotAllocationStrategy}
    TargetTracking: {PolicyName, PredefinedMetricType ALBRequestCountPerTarget, ResourceLabel, TargetValue}
    ScheduledActions: {advisor-<model>-<n>-start|end: {Recurrence, TimeZone, MinSize}}

Capacity is counted in nodes of the plan's shape: the shape weighs 1 and each other type of the pool
``WeightedCapacity`` = the replicas a node of it holds over those a shape node holds (from the pool's
allocatable resources; EC2 Auto Scaling User Guide, "Configure instance weighting"), so MinSize, MaxSize
and OnDemandBaseCapacity are the pool's node bounds and base, and a group of instances of one size keeps
counting instances, as it did before apply. A launch template serves one architecture: a pool that mixes
x86_64 and arm64 types is refused (give the group a template per architecture first). The spot allocation
strategy is ``price-capacity-optimized``, the one AWS recommends for spot (same guide, "Allocation
strategies"). The group's launch template and its desired capacity stay what they are: target tracking
owns the desired count, and apply only clamps it into the new bounds, refusing when that would stop more
than the disruption guardrail allows at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

from advisor.apply.aws.clients import AwsApplier, call, poll_waits, resource_label
from advisor.apply.base import ApplyError, Intent, Progress, Refused, State, Step
from advisor.recommendation.deployment import NodePool
from advisor.render.apply import json_file

POLICY_NAME = "advisor-target-tracking"
SPOT_STRATEGY = "price-capacity-optimized"


class AsgApplier(AwsApplier):
    kind = "aws_asg"

    def label(self, intent: Intent) -> str:
        assert intent.target.aws_asg is not None
        return f"Auto Scaling group {intent.target.aws_asg.name}"

    def _name(self, intent: Intent) -> str:
        assert intent.target.aws_asg is not None
        return intent.target.aws_asg.name

    def _group(self, intent: Intent) -> dict[str, Any]:
        session, name = self._session(intent), self._name(intent)
        groups = call(
            "autoscaling:DescribeAutoScalingGroups",
            session.region,
            session.client("autoscaling").describe_auto_scaling_groups,
            AutoScalingGroupNames=[name],
        )["AutoScalingGroups"]
        if not groups:
            raise ApplyError(
                f"Auto Scaling group {name!r} does not exist in {session.region}",
                where=f"deploy.aws_asg of {intent.name}",
                fix="create it (with a launch template and a target group) or correct the name",
            )
        group: dict[str, Any] = groups[0]
        return group

    def read(self, intent: Intent) -> State:
        group, session = self._group(intent), self._session(intent)
        client = session.client("autoscaling")
        mixed = group.get("MixedInstancesPolicy")
        overrides: list[dict[str, str]] = []
        distribution: dict[str, Any] | None = None
        if mixed:
            overrides = [
                {"InstanceType": o["InstanceType"], "WeightedCapacity": str(o.get("WeightedCapacity", "1"))}
                for o in mixed.get("LaunchTemplate", {}).get("Overrides", [])
            ]
            d = mixed.get("InstancesDistribution", {})
            distribution = {
                k: d.get(k)
                for k in (
                    "OnDemandBaseCapacity",
                    "OnDemandPercentageAboveBaseCapacity",
                    "SpotAllocationStrategy",
                )
            }
        policies = call(
            "autoscaling:DescribePolicies",
            session.region,
            client.describe_policies,
            AutoScalingGroupName=group["AutoScalingGroupName"],
        )["ScalingPolicies"]
        tracking = None
        others = [p["PolicyName"] for p in policies if p["PolicyName"] != POLICY_NAME]
        for p in policies:
            if p["PolicyName"] == POLICY_NAME:
                cfg = p["TargetTrackingConfiguration"]
                spec = cfg.get("PredefinedMetricSpecification", {})
                tracking = {
                    "PolicyName": POLICY_NAME,
                    "PredefinedMetricType": spec.get("PredefinedMetricType"),
                    "ResourceLabel": spec.get("ResourceLabel"),
                    "TargetValue": round(float(cfg["TargetValue"]), 3),
                }
        actions = call(
            "autoscaling:DescribeScheduledActions",
            session.region,
            client.describe_scheduled_actions,
            AutoScalingGroupName=group["AutoScalingGroupName"],
        )["ScheduledUpdateGroupActions"]
        prefix = f"advisor-{intent.name}-"
        scheduled = {
            a["ScheduledActionName"]: {
                "Recurrence": a.get("Recurrence"),
                "TimeZone": a.get("TimeZone", "UTC"),
                "MinSize": a.get("MinSize"),
            }
            for a in actions
            if a["ScheduledActionName"].startswith(prefix)
        }
        return {
            "MinSize": group["MinSize"],
            "MaxSize": group["MaxSize"],
            "MixedInstancesPolicy": {
                "LaunchTemplate": {"Overrides": overrides or None},
                "InstancesDistribution": distribution,
            },
            "TargetTracking": tracking,
            "ScheduledActions": scheduled,
            "_refs": {
                "DesiredCapacity": group["DesiredCapacity"],
                "LaunchTemplate": _launch_template(group),
                "TargetGroupARNs": list(group.get("TargetGroupARNs", [])),
                "LiveCount": len(group.get("Instances", [])) or group["DesiredCapacity"],
                "OtherPolicies": others,
            },
        }

    def desired(self, intent: Intent, live: State) -> State:
        pool = _pool(intent)
        others = live["_refs"]["OtherPolicies"]
        if others and not intent.guardrails.force:
            raise Refused(
                f"Auto Scaling group {self._name(intent)!r} has scaling policies advisor did not make "
                f"({', '.join(others)}), which would act beside advisor's target tracking",
                fix="delete them, or pass --force to add advisor's policy beside them",
            )
        if len(pool.architectures) > 1:
            raise ApplyError(
                f"pool {pool.name} mixes {' and '.join(a.value for a in pool.architectures)} types, but the "
                "group's launch template boots one architecture",
                where=f"deploy.aws_asg of {intent.name}",
                fix="list one architecture for the model (architectures:) and recommend again",
            )
        weights = capacity_weights(pool, intent)
        d = intent.deployment
        base = max(pool.on_demand_base_capacity, intent.guardrails.min_on_demand_base)
        rpn = max(1, intent.model.plan.replicas_per_node if intent.model.plan else 1)
        targets = live["_refs"]["TargetGroupARNs"]
        if not targets:
            raise ApplyError(
                f"Auto Scaling group {self._name(intent)!r} has no target group",
                where=f"deploy.aws_asg of {intent.name}",
                fix="attach the model's ALB target group for ALBRequestCountPerTarget target tracking",
            )
        session = self._session(intent)
        label = resource_label(session.client("elbv2"), targets[0], session.region)
        scheduled = {}
        for n, s in enumerate(d.schedules, start=1):
            scheduled[f"advisor-{intent.name}-{n}-start"] = {
                "Recurrence": s.start,
                "TimeZone": s.timezone,
                "MinSize": min(pool.max_nodes, -(-s.min_replicas // rpn)),
            }
            scheduled[f"advisor-{intent.name}-{n}-end"] = {
                "Recurrence": s.end,
                "TimeZone": s.timezone,
                "MinSize": pool.min_nodes,
            }
        return {
            "MinSize": pool.min_nodes,
            "MaxSize": pool.max_nodes,
            "MixedInstancesPolicy": {
                "LaunchTemplate": {
                    "Overrides": [
                        {"InstanceType": t, "WeightedCapacity": str(weights[t])} for t in pool.instance_types
                    ]
                },
                "InstancesDistribution": {
                    "OnDemandBaseCapacity": base,
                    "OnDemandPercentageAboveBaseCapacity": pool.on_demand_percentage_above_base_capacity,
                    "SpotAllocationStrategy": SPOT_STRATEGY,
                },
            },
            "TargetTracking": {
                "PolicyName": POLICY_NAME,
                "PredefinedMetricType": d.scaling_metric.name,
                "ResourceLabel": label,
                "TargetValue": round(d.scaling_metric.target_value, 3),
            },
            "ScheduledActions": scheduled,
            "_refs": dict(live["_refs"]),
        }

    def steps(self, intent: Intent, now: State, want: State) -> list[Step]:
        session, name = self._session(intent), self._name(intent)
        client, region = session.client("autoscaling"), session.region
        out: list[Step] = []
        update = _group_update(intent, now, want)
        if update:
            out.append(
                Step(
                    f"update Auto Scaling group {name}: " + ", ".join(sorted(update)),
                    lambda: call(
                        "autoscaling:UpdateAutoScalingGroup",
                        region,
                        client.update_auto_scaling_group,
                        AutoScalingGroupName=name,
                        **update,
                    ),
                )
            )
        out += _tracking_steps(client, region, name, now.get("TargetTracking"), want.get("TargetTracking"))
        out += _schedule_steps(client, region, name, now.get("ScheduledActions") or {}, want)
        return out

    def settle(self, intent: Intent, want: State, deadline_s: float, progress: Progress) -> None:
        """A group is settled when its desired capacity lies in the new bounds (instances follow)."""
        waits = poll_waits()
        while True:
            group = self._group(intent)
            if group["MinSize"] <= group["DesiredCapacity"] <= group["MaxSize"]:
                return
            if time.monotonic() >= deadline_s:
                raise ApplyError(f"Auto Scaling group {self._name(intent)} did not settle in time")
            progress(f"{self._name(intent)}: desired {group['DesiredCapacity']}")
            time.sleep(min(next(waits), max(0.0, deadline_s - time.monotonic())))

    def render(self, intent: Intent) -> Mapping[str, str]:
        """CreateAutoScalingGroup's MixedInstancesPolicy and bounds, for a migration to a group."""
        pool = _pool(intent)
        weights = capacity_weights(pool, intent)
        body = {
            "AutoScalingGroupName": f"{intent.name}",
            "MinSize": pool.min_nodes,
            "MaxSize": pool.max_nodes,
            "MixedInstancesPolicy": {
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {"LaunchTemplateName": "<your launch template>"},
                    "Overrides": [
                        {"InstanceType": t, "WeightedCapacity": str(weights[t])} for t in pool.instance_types
                    ],
                },
                "InstancesDistribution": {
                    "OnDemandBaseCapacity": max(
                        pool.on_demand_base_capacity, intent.guardrails.min_on_demand_base
                    ),
                    "OnDemandPercentageAboveBaseCapacity": pool.on_demand_percentage_above_base_capacity,
                    "SpotAllocationStrategy": SPOT_STRATEGY,
                },
            },
        }
        return {f"{intent.name}/auto-scaling-group.json": json_file(body)}


def _pool(intent: Intent) -> NodePool:
    if not intent.pools:
        raise ApplyError(
            f"the recommendation of {intent.name} names no node pool",
            fix="recommend again: an EC2 plan carries its pool in the recommendation's pools",
        )
    return intent.pools[0]


def capacity_weights(pool: NodePool, intent: Intent) -> dict[str, int]:
    """Each type's WeightedCapacity: the replicas a node of it holds over those a node of the plan's shape
    holds, rounded down, at least 1; the shape weighs 1, so capacity units are shape nodes."""
    fits = {t: _replicas_on(pool, t, intent) for t in pool.instance_types}
    shape = fits[pool.instance_types[0]]
    return {t: max(1, math.floor(n / shape + 1e-9)) for t, n in fits.items()}


def _replicas_on(pool: NodePool, instance_type: str, intent: Intent) -> float:
    need, a = intent.deployment.replica, pool.allocatable.get(instance_type)
    if a is None:
        return 1.0
    fits = [a.vcpu / need.vcpu if need.vcpu > 0 else math.inf, a.memory_gib / need.memory_gib]
    if need.gpu_count > 0:
        fits.append(a.gpu_count / need.gpu_count)
    if a.pod_slots is not None:
        fits.append(a.pod_slots)
    return max(1.0, math.floor(min(fits) + 1e-9))


def _launch_template(group: Mapping[str, Any]) -> dict[str, Any]:
    """The group's launch template: its own, or the one its MixedInstancesPolicy names."""
    spec = group.get("LaunchTemplate") or (
        (group.get("MixedInstancesPolicy") or {})
        .get("LaunchTemplate", {})
        .get("LaunchTemplateSpecification", {})
    )
    # UpdateAutoScalingGroup takes the id or the name, not both
    key = "LaunchTemplateId" if "LaunchTemplateId" in spec else "LaunchTemplateName"
    return {k: spec[k] for k in (key, "Version") if k in spec}


def _group_update(intent: Intent, now: State, want: State) -> dict[str, Any]:
    update: dict[str, Any] = {}
    for key in ("MinSize", "MaxSize"):
        if now.get(key) != want.get(key):
            update[key] = want[key]
    mixed = want.get("MixedInstancesPolicy") or {}
    if not (mixed.get("LaunchTemplate") or {}).get("Overrides"):
        if (now.get("MixedInstancesPolicy") or {}).get("LaunchTemplate", {}).get("Overrides"):
            # back to a plain launch template (a rollback to a group without a mixed policy): naming the
            # launch template replaces the MixedInstancesPolicy (UpdateAutoScalingGroup API reference)
            update["LaunchTemplate"] = now["_refs"]["LaunchTemplate"]
    elif now.get("MixedInstancesPolicy") != mixed:
        update["MixedInstancesPolicy"] = {
            "LaunchTemplate": {
                "LaunchTemplateSpecification": now["_refs"]["LaunchTemplate"],
                "Overrides": mixed["LaunchTemplate"]["Overrides"],
            },
            "InstancesDistribution": mixed["InstancesDistribution"],
        }
    if not update:
        return update
    desired = now["_refs"]["DesiredCapacity"]
    clamped = min(max(desired, want["MinSize"]), want["MaxSize"])
    if clamped < desired:
        stopped_pct = 100.0 * (desired - clamped) / desired
        if stopped_pct > intent.guardrails.max_disruption_pct:
            raise ApplyError(
                f"the new maximum {want['MaxSize']} would stop {desired - clamped} of {desired} running "
                f"capacity units at once ({stopped_pct:.0f}%, over the "
                f"{intent.guardrails.max_disruption_pct}% disruption guardrail)",
                where=f"deploy.aws_asg of {intent.name}",
                fix="let target tracking scale in first, or raise --max-disruption",
            )
    if clamped != desired:
        update["DesiredCapacity"] = clamped
    return update


def _tracking_steps(
    client: Any, region: str, name: str, now: dict[str, Any] | None, want: dict[str, Any] | None
) -> list[Step]:
    if now == want:
        return []
    if want is None:
        return [
            Step(
                f"delete scaling policy {POLICY_NAME}",
                lambda: call(
                    "autoscaling:DeletePolicy",
                    region,
                    client.delete_policy,
                    AutoScalingGroupName=name,
                    PolicyName=POLICY_NAME,
                ),
            )
        ]
    config = {
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": want["PredefinedMetricType"],
            "ResourceLabel": want["ResourceLabel"],
        },
        "TargetValue": want["TargetValue"],
    }
    return [
        Step(
            f"target tracking {want['PredefinedMetricType']} at {want['TargetValue']:g}",
            lambda: call(
                "autoscaling:PutScalingPolicy",
                region,
                client.put_scaling_policy,
                AutoScalingGroupName=name,
                PolicyName=POLICY_NAME,
                PolicyType="TargetTrackingScaling",
                TargetTrackingConfiguration=config,
            ),
        )
    ]


def _schedule_steps(client: Any, region: str, name: str, have: dict[str, Any], want: State) -> list[Step]:
    wanted: dict[str, Any] = want.get("ScheduledActions") or {}
    out = []
    for action_name, a in wanted.items():
        if have.get(action_name) != a:
            out.append(
                Step(
                    f"scheduled action {action_name}: '{a['Recurrence']}' ({a['TimeZone']}) "
                    f"min {a['MinSize']}",
                    partial(
                        call,
                        "autoscaling:PutScheduledUpdateGroupAction",
                        region,
                        client.put_scheduled_update_group_action,
                        AutoScalingGroupName=name,
                        ScheduledActionName=action_name,
                        **a,
                    ),
                )
            )
    for action_name in have:
        if action_name not in wanted:
            out.append(
                Step(
                    f"delete scheduled action {action_name}",
                    partial(
                        call,
                        "autoscaling:DeleteScheduledAction",
                        region,
                        client.delete_scheduled_action,
                        AutoScalingGroupName=name,
                        ScheduledActionName=action_name,
                    ),
                )
            )
    return out
