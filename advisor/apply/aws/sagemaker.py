"""The SageMaker real-time endpoint applier: the production variant's instance type and count, and its
Application Auto Scaling (scalable target, target tracking on ``SageMakerVariantInvocationsPerInstance``,
scheduled minimums).

State (besides :mod:`advisor.apply.aws.aas`'s part)::

    Variant: {VariantName, InstanceType, InstanceCount}
    _refs:   {EndpointConfigName}     # what a rollback returns to

A new instance type needs a new endpoint configuration and ``UpdateEndpoint``; only counts change through
``UpdateEndpointWeightsAndCapacities`` (SageMaker API reference). SageMaker refuses to update an endpoint
whose variant is a registered scalable target with a new configuration, so apply deregisters it first,
waits for the endpoint to be ``InService`` again and registers it with the new bounds (SageMaker Developer
Guide, "Update or delete endpoints that use automatic scaling"). The update is a rolling one in batches of
the disruption guardrail's share of capacity. The instance count stays what target tracking set, clamped
into the new bounds. Instance types are checked against botocore's own enum of endpoint types.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from advisor.apply.aws import aas
from advisor.apply.aws.clients import AwsApplier, AwsSession, SessionFor, call, error_code, poll_waits
from advisor.apply.base import ApplyError, Intent, Progress, State, Step
from advisor.errors import AdvisorError
from advisor.platforms.sagemaker import check_endpoint_type
from advisor.pricing.aws import AWS_ERRORS
from advisor.render.apply import json_file

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
WAIT_INTERVAL_S = 60  # between rolling-update batches
# A rolling update's batch as a share of capacity must be 5-50 % (API reference, CapacitySize with
# RollingUpdatePolicy); the disruption guardrail is held to that range.
BATCH_PCT = (5, 50)
ADVISOR_CONFIG = "-advisor-"  # in the names of the endpoint configs advisor creates
_VARIANT_KEYS = ("VariantName", "ModelName", "InstanceType", "InitialInstanceCount", "InitialVariantWeight")


def config_name(endpoint: str, recommendation_id: str) -> str:
    """``<endpoint>-advisor-<8 hex of the recommendation id>``: unique per recommendation, at most 63
    characters and ending alphanumeric, as the API's name pattern requires (the endpoint part shortened)."""
    digest = hashlib.blake2b(recommendation_id.encode(), digest_size=4).hexdigest()
    suffix = f"{ADVISOR_CONFIG}{digest}"
    return endpoint[: 63 - len(suffix)].rstrip("-") + suffix


def describe_endpoint(session: AwsSession, endpoint: str, model: str) -> dict[str, Any]:
    """DescribeEndpoint; one line for an endpoint that does not exist (a ValidationException "Could not
    find endpoint ...", API reference) or any other failure."""
    sm = session.client("sagemaker")
    try:
        found: dict[str, Any] = sm.describe_endpoint(EndpointName=endpoint)
    except AWS_ERRORS as exc:
        if error_code(exc) == "ValidationException" and "could not find" in str(exc).lower():
            raise ApplyError(
                f"SageMaker endpoint {endpoint!r} does not exist in {session.region}",
                where=f"deploy.sagemaker of {model}",
                fix="create it or correct the endpoint name (advisor changes an endpoint, never makes one)",
            ) from None
        return call("sagemaker:DescribeEndpoint", session.region, sm.describe_endpoint, EndpointName=endpoint)
    return found


def wait_in_service(
    endpoint: str, status: Callable[[], str], deadline_s: float, timeout_s: float, progress: Progress
) -> None:
    """Read ``status()`` until the endpoint is InService (reads spaced by :func:`poll_waits`); ApplyError
    when it fails or rolls back, or at ``deadline_s`` (``timeout_s`` is what the message calls it)."""
    waits = poll_waits()
    while True:
        now = status()
        if now == "InService":
            return
        if now in ("Failed", "OutOfService", "RollingBack"):
            raise ApplyError(f"SageMaker endpoint {endpoint} is {now} after the update")
        if time.monotonic() >= deadline_s:
            raise ApplyError(
                f"SageMaker endpoint {endpoint} still {now} after {timeout_s:g} s",
                fix="see the endpoint's events in the console; raise --timeout for large models",
            )
        progress(f"{endpoint}: {now}")
        time.sleep(min(next(waits), max(0.0, deadline_s - time.monotonic())))


class SageMakerApplier(AwsApplier):
    kind = "sagemaker"

    def __init__(
        self,
        session_for: SessionFor,
        *,
        timeout_s: float = 900.0,
    ) -> None:
        super().__init__(session_for)
        self.timeout_s = timeout_s

    @staticmethod
    def _count_on(live: Mapping[str, Any], instance_type: str, vcpus: Mapping[str, float]) -> int:
        """The live instance count, on a new type as many as give the same vCPUs (capacity is never cut by
        the switch; target tracking trims it afterwards). ``vcpus`` are the recommendation's
        (``SageMakerVariant.vcpus_by_instance_type``); a type not in it keeps the count."""
        count = int(live["InstanceCount"])
        if live["InstanceType"] == instance_type:
            return count
        old, new = vcpus.get(live["InstanceType"]), vcpus.get(instance_type)
        if old is None or new is None or new <= 0:
            return count
        return max(1, math.ceil(count * old / new - 1e-9))

    @staticmethod
    def _names(intent: Intent) -> tuple[str, str]:
        t = intent.target.sagemaker
        assert t is not None
        return t.endpoint, t.variant

    def label(self, intent: Intent) -> str:
        endpoint, variant = self._names(intent)
        return f"SageMaker endpoint {endpoint} (variant {variant})"

    def _resource(self, intent: Intent) -> aas.Resource:
        endpoint, variant = self._names(intent)
        return aas.Resource("sagemaker", f"endpoint/{endpoint}/variant/{variant}", DIMENSION)

    def _endpoint(self, intent: Intent) -> dict[str, Any]:
        endpoint, _ = self._names(intent)
        return describe_endpoint(self._session(intent), endpoint, intent.name)

    def read(self, intent: Intent) -> State:
        session, (endpoint, variant) = self._session(intent), self._names(intent)
        sm = session.client("sagemaker")
        found = self._endpoint(intent)
        in_use = found["EndpointConfigName"]
        config = call(
            "sagemaker:DescribeEndpointConfig",
            session.region,
            sm.describe_endpoint_config,
            EndpointConfigName=in_use,
        )
        variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
        if variant not in variants:
            raise ApplyError(
                f"endpoint {endpoint!r} has no production variant {variant!r}",
                where=f"deploy.sagemaker of {intent.name}",
                fix=f"name one of: {', '.join(sorted(variants))}",
            )
        live = {v["VariantName"]: v for v in found.get("ProductionVariants", [])}
        count = live.get(variant, {}).get(
            "DesiredInstanceCount", variants[variant].get("InitialInstanceCount")
        )
        state = {
            "Variant": {
                "VariantName": variant,
                "InstanceType": variants[variant]["InstanceType"],
                "InstanceCount": int(count),
            },
            **aas.read(session, self._resource(intent), intent.name),
            "_refs": {"EndpointConfigName": in_use, "LiveCount": int(count), "Variants": len(variants)},
        }
        return state

    def desired(self, intent: Intent, live: State) -> State:
        v = intent.deployment.sagemaker_variant
        if v is None:
            raise ApplyError(f"the plan of {intent.name} has no SageMaker variant", fix="recommend again")
        try:
            instance_type = check_endpoint_type(v.instance_type, where=f"plan of {intent.name}")
        except AdvisorError as exc:
            raise ApplyError(exc.what, where=exc.where, fix=exc.fix) from None
        others = [*(live.get("_other_policies") or []), *(live.get("_other_actions") or [])]
        if others and live["Variant"]["InstanceType"] != instance_type:
            raise ApplyError(
                f"the variant's scaling has policies or scheduled actions advisor did not make "
                f"({', '.join(others)}); a new instance type deregisters the scalable target, and SageMaker "
                "would delete them with it",
                where=f"deploy.sagemaker of {intent.name}",
                fix="remove them (advisor sets target tracking and schedules itself), then apply again",
            )
        aas.refuse_others(live, intent.guardrails.force, f"endpoint variant {self.label(intent)}")
        count = self._count_on(live["Variant"], instance_type, v.vcpus_by_instance_type)
        count = min(max(count, v.min_instance_count), v.max_instance_count)
        rpn = max(1, intent.model.plan.replicas_per_node if intent.model.plan else 1)
        return {
            "Variant": {
                "VariantName": live["Variant"]["VariantName"],
                "InstanceType": instance_type,
                "InstanceCount": count,
            },
            **aas.for_deployment(intent, v.min_instance_count, v.max_instance_count, replicas_per_unit=rpn),
            "_refs": {},
        }

    def steps(self, intent: Intent, now: State, want: State) -> list[Step]:
        session, res = self._session(intent), self._resource(intent)
        out: list[Step] = []
        scaling_now = now
        if now["Variant"]["InstanceType"] != want["Variant"]["InstanceType"]:
            if now.get("ScalableTarget"):
                # advisor's policy and schedules, then the target (AWS deletes a deregistered target's
                # policies and scheduled actions itself; deleting them first is the same on every backend)
                unscaled: State = {"ScalableTarget": None, "TargetTracking": None, "ScheduledActions": {}}
                out += aas.steps(session, res, now, unscaled)
                scaling_now = unscaled
            out += self._config_steps(intent, now, want)
        else:
            if now["Variant"]["InstanceCount"] != want["Variant"]["InstanceCount"]:
                out.append(self._count_step(intent, want["Variant"]))
            back_to = (want.get("_refs") or {}).get("EndpointConfigName")
            if back_to is not None and back_to == now["_refs"]["EndpointConfigName"]:
                out += self._stale_configs(intent, back_to, back_to)
        return out + aas.steps(session, res, scaling_now, want)

    def _config_steps(self, intent: Intent, now: State, want: State) -> list[Step]:
        """A new endpoint config (or the one a rollback returns to), the update, and for a rollback the
        removal of the config advisor made."""
        session, (endpoint, variant) = self._session(intent), self._names(intent)
        sm, region = session.client("sagemaker"), session.region
        back_to = (want.get("_refs") or {}).get("EndpointConfigName")
        wanted, in_use = want["Variant"], now["_refs"]["EndpointConfigName"]
        name = back_to or config_name(endpoint, intent.recommendation_id)
        out: list[Step] = []

        def create() -> None:
            current = call(
                "sagemaker:DescribeEndpointConfig",
                region,
                sm.describe_endpoint_config,
                EndpointConfigName=in_use,
            )
            variants = []
            for p in current["ProductionVariants"]:
                v = {k: p[k] for k in _VARIANT_KEYS if k in p}
                if v["VariantName"] == variant:
                    v.update(
                        InstanceType=wanted["InstanceType"], InitialInstanceCount=wanted["InstanceCount"]
                    )
                variants.append(v)
            call(
                "sagemaker:CreateEndpointConfig",
                region,
                sm.create_endpoint_config,
                EndpointConfigName=name,
                ProductionVariants=variants,
            )

        def update() -> None:
            extra: dict[str, Any] = {}
            if now["_refs"].get("Variants", 1) == 1:  # rolling updates take one-variant endpoints only
                batch = min(max(intent.guardrails.max_disruption_pct, BATCH_PCT[0]), BATCH_PCT[1])
                extra["DeploymentConfig"] = {
                    "RollingUpdatePolicy": {
                        "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": batch},
                        "WaitIntervalInSeconds": WAIT_INTERVAL_S,
                    }
                }
            call(
                "sagemaker:UpdateEndpoint",
                region,
                sm.update_endpoint,
                EndpointName=endpoint,
                EndpointConfigName=name,
                **extra,
            )
            self._wait_in_service(intent, time.monotonic() + self.timeout_s, lambda _: None)

        if back_to is None and not self._config_exists(intent, name, wanted["InstanceType"]):
            out.append(Step(f"create endpoint config {name}: {variant} on {wanted['InstanceType']}", create))
        out.append(
            Step(
                f"update endpoint {endpoint} to {name} "
                f"({wanted['InstanceType']} x {wanted['InstanceCount']})",
                update,
            )
        )
        if back_to is not None:
            out += self._stale_configs(intent, in_use, back_to)
        return out

    def _stale_configs(self, intent: Intent, in_use: str, back_to: str) -> list[Step]:
        """On a rollback, advisor's endpoint configs for this recommendation that nothing will use: the one
        in use before the rollback, and one a run made before it failed at UpdateEndpoint."""
        session, (endpoint, _) = self._session(intent), self._names(intent)
        sm = session.client("sagemaker")
        made = config_name(endpoint, intent.recommendation_id)
        stale = [c for c in dict.fromkeys((in_use, made)) if ADVISOR_CONFIG in c and c != back_to]
        return [
            Step(
                f"delete endpoint config {c} (made by advisor, no longer used)",
                partial(
                    call,
                    "sagemaker:DeleteEndpointConfig",
                    session.region,
                    sm.delete_endpoint_config,
                    EndpointConfigName=c,
                ),
            )
            for c in stale
            if c == in_use or self._exists(intent, c)
        ]

    def _exists(self, intent: Intent, name: str) -> bool:
        try:
            self._session(intent).client("sagemaker").describe_endpoint_config(EndpointConfigName=name)
        except AWS_ERRORS:
            return False
        return True

    def _config_exists(self, intent: Intent, name: str, instance_type: str) -> bool:
        """An endpoint config advisor made for this recommendation already (a run that stopped part-way)
        with the wanted type; ApplyError when the name is taken by another one."""
        session, (_, variant) = self._session(intent), self._names(intent)
        try:
            found = session.client("sagemaker").describe_endpoint_config(EndpointConfigName=name)
        except AWS_ERRORS:
            return False
        types = {v["VariantName"]: v.get("InstanceType") for v in found.get("ProductionVariants", [])}
        if types.get(variant) != instance_type:
            raise ApplyError(
                f"endpoint config {name!r} exists with {types.get(variant)} for {variant}, "
                f"not {instance_type}",
                fix="delete that endpoint config (advisor made it for this recommendation) and apply again",
            )
        return True

    def _count_step(self, intent: Intent, wanted: Mapping[str, Any]) -> Step:
        session, (endpoint, variant) = self._session(intent), self._names(intent)
        sm = session.client("sagemaker")
        return Step(
            f"endpoint {endpoint}: {variant} instance count → {wanted['InstanceCount']}",
            lambda: call(
                "sagemaker:UpdateEndpointWeightsAndCapacities",
                session.region,
                sm.update_endpoint_weights_and_capacities,
                EndpointName=endpoint,
                DesiredWeightsAndCapacities=[
                    {"VariantName": variant, "DesiredInstanceCount": wanted["InstanceCount"]}
                ],
            ),
        )

    def _wait_in_service(self, intent: Intent, deadline_s: float, progress: Progress) -> None:
        endpoint, _ = self._names(intent)

        def status() -> str:
            return str(self._endpoint(intent)["EndpointStatus"])

        wait_in_service(endpoint, status, deadline_s, self.timeout_s, progress)

    def settle(self, intent: Intent, want: State, deadline_s: float, progress: Progress) -> None:
        self._wait_in_service(intent, deadline_s, progress)

    def render(self, intent: Intent) -> Mapping[str, str]:
        v = intent.deployment.sagemaker_variant
        assert v is not None
        config = {
            "EndpointConfigName": config_name(intent.name, intent.recommendation_id),
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "<your SageMaker model>",
                    "InstanceType": v.instance_type,
                    "InitialInstanceCount": v.initial_instance_count,
                }
            ],
        }
        rpn = max(1, intent.model.plan.replicas_per_node if intent.model.plan else 1)
        scaling = aas.for_deployment(
            intent, v.min_instance_count, v.max_instance_count, replicas_per_unit=rpn
        )
        return {
            f"{intent.name}/endpoint-config.json": json_file(config),
            f"{intent.name}/application-autoscaling.json": json_file(scaling),
        }
