"""The ECS service applier: task size, capacity-provider strategy, deployment limits and Application Auto
Scaling (target tracking on ``ALBRequestCountPerTarget``, scheduled minimums).

State (besides :mod:`advisor.apply.aws.aas`'s part)::

    TaskDefinition: {Family, Cpu, Memory}          # task-level CPU units and MiB
    CapacityProviderStrategy: [{capacityProvider, base, weight}]
    DeploymentConfiguration: {minimumHealthyPercent, maximumPercent}
    _refs: {TaskDefinitionArn, TargetGroupArn}     # the revision a rollback returns to

A new task size is a new revision of the service's task definition (everything else copied) and an
``UpdateService`` to it; a new strategy is applied with ``forceNewDeployment`` (ECS requires it when the
strategy changes, API reference "UpdateService"). Fargate plans run on ``FARGATE`` (the on-demand base)
and ``FARGATE_SPOT``; EC2 plans on the capacity provider named after the plan's node pool, which must
exist on the cluster (its Auto Scaling group is the pool). ``minimumHealthyPercent`` is 100 less the
disruption guardrail, so a rollout never stops more than that share of tasks at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from advisor.apply.aws import aas
from advisor.apply.aws.clients import AwsApplier, call, poll_waits, resource_label
from advisor.apply.base import ApplyError, Intent, Progress, State, Step
from advisor.domain import FargateSize, Platform
from advisor.render.apply import json_file

DIMENSION = "ecs:service:DesiredCount"
MIB_PER_GIB = 1024
CPU_UNITS_PER_VCPU = 1024
# task definition fields RegisterTaskDefinition takes back (DescribeTaskDefinition returns more)
_REGISTER_KEYS = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
    "placementConstraints", "requiresCompatibilities", "runtimePlatform", "ephemeralStorage",
    "proxyConfiguration", "inferenceAccelerators", "pidMode", "ipcMode",
)  # fmt: skip


class EcsApplier(AwsApplier):
    kind = "ecs"

    @staticmethod
    def _names(intent: Intent) -> tuple[str, str]:
        t = intent.target.ecs
        assert t is not None
        return t.cluster, t.service

    def label(self, intent: Intent) -> str:
        cluster, service = self._names(intent)
        return f"ECS service {cluster}/{service}"

    def _resource(self, intent: Intent) -> aas.Resource:
        cluster, service = self._names(intent)
        return aas.Resource("ecs", f"service/{cluster}/{service}", DIMENSION)

    def _service(self, intent: Intent) -> dict[str, Any]:
        session, (cluster, service) = self._session(intent), self._names(intent)
        found = call(
            "ecs:DescribeServices",
            session.region,
            session.client("ecs").describe_services,
            cluster=cluster,
            services=[service],
        )
        services = [s for s in found.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            raise ApplyError(
                f"ECS service {service!r} does not exist in cluster {cluster!r} ({session.region})",
                where=f"deploy.ecs of {intent.name}",
                fix="create the service or correct the names",
            )
        out: dict[str, Any] = services[0]
        return out

    def read(self, intent: Intent) -> State:
        session, svc = self._session(intent), self._service(intent)
        task = call(
            "ecs:DescribeTaskDefinition",
            session.region,
            session.client("ecs").describe_task_definition,
            taskDefinition=svc["taskDefinition"],
        )["taskDefinition"]
        deployment = svc.get("deploymentConfiguration") or {}
        balancers = svc.get("loadBalancers") or []
        return {
            "TaskDefinition": {
                "Family": task["family"],
                "Cpu": task.get("cpu"),
                "Memory": task.get("memory"),
            },
            "CapacityProviderStrategy": _strategy(svc.get("capacityProviderStrategy") or []) or None,
            "DeploymentConfiguration": {
                # unset means ECS's defaults for a replica service: 100 and 200 (ECS API reference,
                # DeploymentConfiguration)
                "minimumHealthyPercent": deployment.get("minimumHealthyPercent", 100),
                "maximumPercent": deployment.get("maximumPercent", 200),
            },
            **aas.read(session, self._resource(intent), intent.name),
            "_refs": {
                "TaskDefinitionArn": task["taskDefinitionArn"],
                "TargetGroupArn": balancers[0].get("targetGroupArn") if balancers else None,
                "LiveCount": svc.get("desiredCount"),
                # the rest of the deployment configuration (circuit breaker, alarms), sent back unchanged
                "DeploymentConfiguration": deployment,
            },
        }

    def desired(self, intent: Intent, live: State) -> State:
        m, d = intent.model, intent.deployment
        assert m.plan is not None
        aas.refuse_others(live, intent.guardrails.force, self.label(intent))
        cpu, memory = _task_size(intent)
        if m.plan.platform is Platform.FARGATE:
            strategy = [
                {"capacityProvider": i.capacity_provider, "base": i.base, "weight": i.weight}
                for i in d.capacity_provider_strategy
            ]
            floor = intent.guardrails.min_on_demand_base
            on_demand = [i for i in strategy if i["capacityProvider"] == "FARGATE"]
            if on_demand:
                on_demand[0]["base"] = max(int(str(on_demand[0]["base"])), floor)
            elif floor > 0:  # all spot: the guardrail's base on FARGATE, weight 0 above it
                strategy.append({"capacityProvider": "FARGATE", "base": floor, "weight": 0})
        else:
            strategy = [{"capacityProvider": pool, "base": 0, "weight": 1} for pool in d.pools]
            self._check_providers(intent, [str(i["capacityProvider"]) for i in strategy])
        target_group = live["_refs"]["TargetGroupArn"]
        if target_group is None:
            raise ApplyError(
                f"ECS service of {intent.name} has no load balancer target group",
                where=f"deploy.ecs of {intent.name}",
                fix="attach the service to its ALB target group: ALBRequestCountPerTarget needs it",
            )
        session = self._session(intent)
        return {
            "TaskDefinition": {"Family": live["TaskDefinition"]["Family"], "Cpu": cpu, "Memory": memory},
            "CapacityProviderStrategy": _strategy(strategy),
            "DeploymentConfiguration": {
                # the guardrail caps the disruption: a service already stricter keeps its setting
                "minimumHealthyPercent": max(
                    100 - intent.guardrails.max_disruption_pct,
                    live["DeploymentConfiguration"]["minimumHealthyPercent"],
                ),
                "maximumPercent": live["DeploymentConfiguration"]["maximumPercent"],
            },
            **aas.for_deployment(
                intent,
                max(d.min_replicas, 1),
                d.max_replicas,
                resource_label=resource_label(session.client("elbv2"), target_group, session.region),
            ),
            "_refs": {
                "TargetGroupArn": target_group,
                "DeploymentConfiguration": live["_refs"]["DeploymentConfiguration"],
            },
        }

    def _check_providers(self, intent: Intent, names: list[str]) -> None:
        """An EC2 plan runs on the capacity provider named after its pool, which apply does not create."""
        session, (cluster, _) = self._session(intent), self._names(intent)
        found = call(
            "ecs:DescribeClusters",
            session.region,
            session.client("ecs").describe_clusters,
            clusters=[cluster],
        ).get("clusters", [])
        have = set(found[0].get("capacityProviders", [])) if found else set()
        missing = [n for n in names if n not in have]
        if missing:
            raise ApplyError(
                f"cluster {cluster!r} has no capacity provider {missing[0]!r} for the plan's EC2 pool",
                where=f"deploy.ecs of {intent.name}",
                fix="create an Auto Scaling group capacity provider of that name (its group holds the pool's "
                "instance types) and add it to the cluster",
            )

    def steps(self, intent: Intent, now: State, want: State) -> list[Step]:
        session, (cluster, service) = self._session(intent), self._names(intent)
        ecs, region = session.client("ecs"), session.region
        out: list[Step] = []
        revision: dict[str, str] = {}
        size_changes = now["TaskDefinition"] != want["TaskDefinition"]
        if size_changes:
            back_to = want.get("_refs", {}).get("TaskDefinitionArn")
            if back_to:
                revision["arn"] = back_to
            else:
                out.append(self._register_step(intent, now, want, revision))
        update: dict[str, Any] = {}
        if now.get("CapacityProviderStrategy") != want.get("CapacityProviderStrategy"):
            # an empty strategy returns the service to its launch type (UpdateService API reference); a
            # new strategy needs a new deployment
            update["capacityProviderStrategy"] = want.get("CapacityProviderStrategy") or []
            update["forceNewDeployment"] = True
        if now.get("DeploymentConfiguration") != want.get("DeploymentConfiguration"):
            whole = dict((now.get("_refs") or {}).get("DeploymentConfiguration") or {})
            update["deploymentConfiguration"] = {**whole, **want["DeploymentConfiguration"]}
        if update or size_changes:

            def run() -> None:
                extra = {"taskDefinition": revision["arn"]} if size_changes else {}
                call(
                    "ecs:UpdateService",
                    region,
                    ecs.update_service,
                    cluster=cluster,
                    service=service,
                    **update,
                    **extra,
                )

            what = sorted(update.keys() - {"forceNewDeployment"}) + (
                ["taskDefinition"] if size_changes else []
            )
            out.append(Step(f"update ECS service {cluster}/{service}: {', '.join(what)}", run))
        return out + aas.steps(session, self._resource(intent), now, want)

    def _register_step(self, intent: Intent, now: State, want: State, revision: dict[str, str]) -> Step:
        session = self._session(intent)
        ecs, region = session.client("ecs"), session.region

        def run() -> None:
            task = call(
                "ecs:DescribeTaskDefinition",
                region,
                ecs.describe_task_definition,
                taskDefinition=now["_refs"]["TaskDefinitionArn"],
            )["taskDefinition"]
            body = {k: task[k] for k in _REGISTER_KEYS if task.get(k)}
            body.update(cpu=want["TaskDefinition"]["Cpu"], memory=want["TaskDefinition"]["Memory"])
            made = call("ecs:RegisterTaskDefinition", region, ecs.register_task_definition, **body)
            revision["arn"] = made["taskDefinition"]["taskDefinitionArn"]

        size = want["TaskDefinition"]
        return Step(
            f"register task definition {size['Family']}: cpu {size['Cpu']}, memory {size['Memory']}", run
        )

    def settle(self, intent: Intent, want: State, deadline_s: float, progress: Progress) -> None:
        """Stable when the primary deployment's rollout is COMPLETED (or, without rollout states, one
        deployment with every task running: the ``services_stable`` waiter's rule)."""
        waits = poll_waits()
        while True:
            svc = self._service(intent)
            primary = [d for d in svc.get("deployments", []) if d.get("status") == "PRIMARY"]
            state = primary[0].get("rolloutState") if primary else None
            if state == "FAILED":
                raise ApplyError(
                    f"the ECS deployment of {intent.name} failed: {primary[0].get('rolloutStateReason')}"
                )
            stable = state == "COMPLETED" or (
                state is None
                and len(svc.get("deployments", [])) == 1
                and svc["runningCount"] == svc["desiredCount"]
            )
            if stable:
                return
            if time.monotonic() >= deadline_s:
                raise ApplyError(
                    f"the ECS service of {intent.name} did not reach a steady state in time ({state})",
                    fix="see the service's events; raise --timeout if tasks start slowly",
                )
            progress(f"{intent.name}: {state or 'deploying'}")
            time.sleep(min(next(waits), max(0.0, deadline_s - time.monotonic())))

    def render(self, intent: Intent) -> Mapping[str, str]:
        cpu, memory = _task_size(intent)
        d = intent.deployment
        service = {
            "serviceName": intent.name,
            "taskDefinition": f"{intent.name} (cpu {cpu}, memory {memory})",
            "capacityProviderStrategy": [
                {"capacityProvider": i.capacity_provider, "base": i.base, "weight": i.weight}
                for i in d.capacity_provider_strategy
            ],
            "deploymentConfiguration": {
                "minimumHealthyPercent": 100 - intent.guardrails.max_disruption_pct,
                "maximumPercent": 200,
            },
        }
        scaling = aas.for_deployment(intent, max(d.min_replicas, 1), d.max_replicas)
        return {
            f"{intent.name}/ecs-service.json": json_file(service),
            f"{intent.name}/application-autoscaling.json": json_file(scaling),
        }


def _task_size(intent: Intent) -> tuple[str, str]:
    """Task CPU units and MiB: the Fargate size of the plan, else the replica's requests (EC2)."""
    m = intent.model
    assert m.plan is not None
    shape = m.plan.plan.shape
    if isinstance(shape, FargateSize):
        vcpu, gib = shape.vcpu, shape.memory_gib
    else:
        vcpu, gib = intent.deployment.replica.vcpu, intent.deployment.replica.memory_gib
    return str(round(vcpu * CPU_UNITS_PER_VCPU)), str(round(gib * MIB_PER_GIB))


def _strategy(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "capacityProvider": i["capacityProvider"],
                "base": int(i.get("base", 0)),
                "weight": int(i.get("weight", 0)),
            }
            for i in items
        ),
        key=lambda i: str(i["capacityProvider"]),
    )
