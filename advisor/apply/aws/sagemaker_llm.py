"""The SageMaker applier of language models (kind ``sagemaker-llm``): an endpoint whose production variants
are the plan's instance groups, each a vLLM container, with Application Auto Scaling per variant.

A group becomes a production variant named after it (``chat-g6e-xlarge-tp1``): a SageMaker Model of the
engine's container (the AWS vLLM deep learning container for SageMaker unless ``llm.sagemaker_image``
says otherwise: ``763104351884.dkr.ecr.<region>.amazonaws.com/vllm:server-sagemaker-cuda-v1``, whose
``SM_VLLM_*`` variables become vLLM's flags; aws.github.io/deep-learning-containers, vLLM, "Configuration"
and "Amazon SageMaker AI Deployment"; 763104351884 is the DLC account of most regions), its instance
type (checked against botocore's enum of endpoint types), the weight of its share of the requests, and a
start-up health-check allowance for loading the weights. Requests are split by those weights; a client
that knows a request's size bucket sends it to its variant with ``TargetVariant`` (InvokeEndpoint), as the
plan's routing says. Each variant scales on ``SageMakerVariantInvocationsPerInstance`` at its capacity
per instance (per minute), between the group's fewest and most instances, with its daily floors as
scheduled actions.

State (per variant, with :mod:`advisor.apply.aws.aas`'s part under ``Scaling``)::

    Variants: {<name>: {InstanceType, Weight, Image, Environment}}
    Scaling:  {<name>: {ScalableTarget, TargetTracking, ScheduledActions}}
    _refs:    {EndpointConfigName, ExecutionRoleArn}     # what a rollback returns to

A change of variants is a new endpoint configuration and ``UpdateEndpoint`` (the models and the config
named after the recommendation); SageMaker refuses that while a variant is a registered scalable target,
so the variants' scaling is removed first and registered again after the endpoint is ``InService``
(SageMaker Developer Guide, "Update or delete endpoints that use automatic scaling"). A rollback updates
the endpoint back to the configuration it used, and deletes the configuration and models advisor made.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from advisor.apply.aws import aas
from advisor.apply.aws.clients import AwsApplier, SessionFor, call
from advisor.apply.aws.sagemaker import (
    ADVISOR_CONFIG,
    DIMENSION,
    config_name,
    describe_endpoint,
    wait_in_service,
)
from advisor.apply.base import ApplyError, LLMIntent, Progress, State, Step
from advisor.errors import AdvisorError
from advisor.platforms.sagemaker import check_endpoint_type
from advisor.pricing.aws import AWS_ERRORS
from advisor.recommendation.llm import LLMGroupDeployment
from advisor.render.apply import json_file

DLC_ACCOUNT = "763104351884"
DEFAULT_IMAGE = DLC_ACCOUNT + ".dkr.ecr.{region}.amazonaws.com/vllm:server-sagemaker-cuda-v1"
METRIC = "SageMakerVariantInvocationsPerInstance"
MAX_STARTUP_S = 3600  # ContainerStartupHealthCheckTimeoutInSeconds: 60-3600 (API reference)
_EMPTY: State = {"ScalableTarget": None, "TargetTracking": None, "ScheduledActions": {}}


def image_of(intent: LLMIntent) -> str:
    return intent.deployment.serving.sagemaker_image or DEFAULT_IMAGE.format(region=intent.region)


def environment(intent: LLMIntent, g: LLMGroupDeployment) -> dict[str, str]:
    """The container's ``SM_VLLM_*`` variables (each a vLLM flag) for one group."""
    s = intent.deployment.serving
    env = {
        "SM_VLLM_MODEL": intent.weights,
        "SM_VLLM_SERVED_MODEL_NAME": s.served_model_name,
        "SM_VLLM_TENSOR_PARALLEL_SIZE": str(g.accelerators_per_replica),
        "SM_VLLM_MAX_MODEL_LEN": str(s.max_model_len),
        "SM_VLLM_GPU_MEMORY_UTILIZATION": format(s.gpu_memory_utilization, "g"),
    }
    if g.replicas_per_instance > 1:  # one container per instance: its replicas as vLLM's data parallelism
        env["SM_VLLM_DATA_PARALLEL_SIZE"] = str(g.replicas_per_instance)
    return env


def _scaling(intent: LLMIntent, g: LLMGroupDeployment) -> State:
    per = g.replicas_per_instance
    return aas.desired(
        model=g.name,
        min_capacity=g.min_instances,
        max_capacity=g.max_instances,
        metric=METRIC,
        target_value=g.requests_per_s_per_replica * per * 60.0,  # invocations a minute per instance
        scale_in_cooldown_s=intent.deployment.scale_down_stabilisation_s,
        schedules=g.schedules,
        units_of=lambda replicas: -(-replicas // per),
    )


class SageMakerLLMApplier(AwsApplier):
    kind = "sagemaker-llm"

    def __init__(self, session_for: SessionFor, *, timeout_s: float = 900.0) -> None:
        super().__init__(session_for)
        self.timeout_s = timeout_s

    @staticmethod
    def _endpoint_name(intent: LLMIntent) -> str:
        t = intent.target.sagemaker
        return t.endpoint if t is not None else intent.name

    def label(self, intent: LLMIntent) -> str:
        return f"SageMaker endpoint {self._endpoint_name(intent)} ({len(intent.deployment.groups)} variants)"

    def _res(self, intent: LLMIntent, variant: str) -> aas.Resource:
        return aas.Resource(
            "sagemaker", f"endpoint/{self._endpoint_name(intent)}/variant/{variant}", DIMENSION
        )

    def _sm(self, intent: LLMIntent) -> tuple[Any, str]:
        session = self._session(intent)
        return session.client("sagemaker"), session.region

    def read(self, intent: LLMIntent) -> State:
        sm, region = self._sm(intent)
        found = describe_endpoint(self._session(intent), self._endpoint_name(intent), intent.name)
        in_use = found["EndpointConfigName"]
        config = call("sagemaker:DescribeEndpointConfig", region, sm.describe_endpoint_config,
                      EndpointConfigName=in_use)  # fmt: skip
        variants, scaling, role = {}, {}, ""
        for v in config["ProductionVariants"]:
            model = call("sagemaker:DescribeModel", region, sm.describe_model, ModelName=v["ModelName"])
            container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
            role = role or model.get("ExecutionRoleArn", "")
            variants[v["VariantName"]] = {
                "InstanceType": v.get("InstanceType"),
                "Weight": round(float(v.get("InitialVariantWeight", 1.0)), 4),
                "Image": container.get("Image"),
                "Environment": dict(container.get("Environment") or {}),
            }
            part = aas.read(self._session(intent), self._res(intent, v["VariantName"]), v["VariantName"])
            scaling[v["VariantName"]] = {k: part[k] for k in _EMPTY}
        return {
            "Variants": variants,
            "Scaling": scaling,
            "_refs": {"EndpointConfigName": in_use, "ExecutionRoleArn": role},
        }

    def desired(self, intent: LLMIntent, live: State) -> State:
        variants, scaling = {}, {}
        for g in intent.deployment.groups:
            if g.accelerator != "nvidia.com/gpu":
                raise ApplyError(
                    f"{g.instance_type} has no NVIDIA GPU, which the vLLM container for SageMaker needs",
                    where=f"plan of {intent.name}",
                    fix="give llm.sagemaker_image a container for that instance, or run it on Kubernetes",
                )
            try:
                itype = check_endpoint_type(g.instance_type, where=f"plan of {intent.name}")
            except AdvisorError as exc:
                raise ApplyError(exc.what, where=exc.where, fix=exc.fix) from None
            variants[g.name] = {
                "InstanceType": itype,
                "Weight": round(g.share_of_requests, 4),
                "Image": image_of(intent),
                "Environment": environment(intent, g),
            }
            scaling[g.name] = _scaling(intent, g)
        for name in live.get("Scaling") or {}:
            scaling.setdefault(name, _EMPTY)  # a variant that goes keeps no scaling
        return {"Variants": variants, "Scaling": scaling, "_refs": {}}

    def steps(self, intent: LLMIntent, now: State, want: State) -> list[Step]:
        session = self._session(intent)
        out: list[Step] = []
        scaling_now = dict(now.get("Scaling") or {})
        if now["Variants"] != want["Variants"]:
            for name, part in scaling_now.items():
                out += aas.steps(session, self._res(intent, name), part, _EMPTY)
                scaling_now[name] = _EMPTY
            out += self._endpoint_steps(intent, now, want)
        for name, part in (want.get("Scaling") or {}).items():
            if name in want["Variants"]:
                out += aas.steps(session, self._res(intent, name), scaling_now.get(name, _EMPTY), part)
        back_to = (want.get("_refs") or {}).get("EndpointConfigName")
        return out + (self._cleanup_steps(intent, now, back_to) if back_to is not None else [])

    def _endpoint_steps(self, intent: LLMIntent, now: State, want: State) -> list[Step]:
        """New models and an endpoint config (those a stopped run made already are kept), or the config a
        rollback returns to, and the update."""
        sm, region = self._sm(intent)
        endpoint = self._endpoint_name(intent)
        back_to = (want.get("_refs") or {}).get("EndpointConfigName")
        made = config_name(endpoint, intent.recommendation_id)
        role = now["_refs"].get("ExecutionRoleArn")
        out: list[Step] = []
        if back_to is None:
            groups = {g.name: g for g in intent.deployment.groups}
            for name, v in want["Variants"].items():
                model = _model_name(made, name)
                if not self._model_exists(intent, model):
                    create = partial(self._create_model, intent, model, v, role)
                    out.append(Step(f"create model {model} ({v['InstanceType']})", create))
            variants = [
                {
                    "VariantName": name,
                    "ModelName": _model_name(made, name),
                    "InstanceType": v["InstanceType"],
                    "InitialInstanceCount": floor_now(groups[name], dt.datetime.now(dt.UTC)),
                    "InitialVariantWeight": v["Weight"],
                    "ContainerStartupHealthCheckTimeoutInSeconds": min(
                        MAX_STARTUP_S, max(60, math.ceil(2 * intent.deployment.serving.start_up_s))
                    ),
                }
                for name, v in want["Variants"].items()
            ]
            if self._config_models(intent, made) is None:
                config = partial(call, "sagemaker:CreateEndpointConfig", region, sm.create_endpoint_config,
                                 EndpointConfigName=made, ProductionVariants=variants)  # fmt: skip
                out.append(Step(f"create endpoint config {made}: {', '.join(want['Variants'])}", config))
        target = back_to or made
        out.append(Step(f"update endpoint {endpoint} to {target}", partial(self._update, intent, target)))
        return out

    def _cleanup_steps(self, intent: LLMIntent, now: State, back_to: str) -> list[Step]:
        """On a rollback, what advisor made for this recommendation and nothing uses any more: its endpoint
        config and models, including those a run left before it reached UpdateEndpoint."""
        sm, region = self._sm(intent)
        made = config_name(self._endpoint_name(intent), intent.recommendation_id)
        configs = [
            c for c in dict.fromkeys((now["_refs"]["EndpointConfigName"], made)) if ADVISOR_CONFIG in c
        ]
        out: list[Step] = []
        for config in (c for c in configs if c != back_to):
            models = self._config_models(intent, config)
            if models is not None:
                out.append(Step(f"delete endpoint config {config} (made by advisor)", partial(
                    call, "sagemaker:DeleteEndpointConfig", region, sm.delete_endpoint_config,
                    EndpointConfigName=config)))  # fmt: skip
            names = {*(models or []), *(_model_name(config, g.name) for g in intent.deployment.groups)}
            for model in sorted(m for m in names if self._model_exists(intent, m)):
                out.append(Step(f"delete model {model} (made by advisor)", partial(
                    call, "sagemaker:DeleteModel", region, sm.delete_model, ModelName=model)))  # fmt: skip
        return out

    def _model_exists(self, intent: LLMIntent, name: str) -> bool:
        try:
            self._sm(intent)[0].describe_model(ModelName=name)
        except AWS_ERRORS:
            return False
        return True

    def _config_models(self, intent: LLMIntent, name: str) -> list[str] | None:
        """The models an endpoint config's variants name; None when there is no such config."""
        try:
            found = self._sm(intent)[0].describe_endpoint_config(EndpointConfigName=name)
        except AWS_ERRORS:
            return None
        return [str(v["ModelName"]) for v in found.get("ProductionVariants", []) if "ModelName" in v]

    def _create_model(self, intent: LLMIntent, name: str, v: Mapping[str, Any], role: str | None) -> None:
        sm, region = self._sm(intent)
        if not role:
            raise ApplyError(
                f"the endpoint's models name no execution role to give {name}",
                where=f"deploy.sagemaker of {intent.name}",
            )
        container = {"Image": v["Image"], "Environment": dict(v["Environment"])}
        call("sagemaker:CreateModel", region, sm.create_model, ModelName=name, ExecutionRoleArn=role,
             PrimaryContainer=container)  # fmt: skip

    def _update(self, intent: LLMIntent, config: str) -> None:
        sm, region = self._sm(intent)
        call("sagemaker:UpdateEndpoint", region, sm.update_endpoint,
             EndpointName=self._endpoint_name(intent), EndpointConfigName=config)  # fmt: skip
        self.settle(intent, {}, time.monotonic() + self.timeout_s, lambda _m: None)

    def settle(self, intent: LLMIntent, want: State, deadline_s: float, progress: Progress) -> None:
        endpoint = self._endpoint_name(intent)

        def status() -> str:
            return str(describe_endpoint(self._session(intent), endpoint, intent.name)["EndpointStatus"])

        wait_in_service(endpoint, status, deadline_s, self.timeout_s, progress)

    def render(self, intent: LLMIntent) -> Mapping[str, str]:
        """The models, endpoint config and scaling as JSON files (what a migration to SageMaker creates)."""
        want = self.desired(intent, {})
        made = config_name(self._endpoint_name(intent), intent.recommendation_id)
        models = {
            _model_name(made, n): {"PrimaryContainer": {"Image": v["Image"], "Environment": v["Environment"]}}
            for n, v in want["Variants"].items()
        }
        config = {"EndpointConfigName": made, "ProductionVariants": want["Variants"]}
        return {
            f"{intent.name}/sagemaker-models.json": json_file(models),
            f"{intent.name}/endpoint-config.json": json_file(config),
            f"{intent.name}/application-autoscaling.json": json_file(want["Scaling"]),
        }


def _model_name(config: str, variant: str) -> str:
    """A model per variant and endpoint config: ``<variant>-<the config's hash>`` (at most 63)."""
    digest = config.rsplit("-", 1)[-1]
    return f"{variant[: 62 - len(digest)].rstrip('-')}-{digest}"


def floor_now(g: LLMGroupDeployment, now: dt.datetime) -> int:
    """The instances a new variant starts with: the group's fewest, or the daily floor in force at ``now``
    (a scheduled action only acts when its window starts, so an endpoint made inside a window would
    otherwise wait at the night's floor)."""
    per = g.replicas_per_instance
    floor = max(1, g.min_instances)
    for s in g.schedules:
        local = now.astimezone(ZoneInfo(s.timezone))
        start, end = int(s.start.split()[1]), int(s.end.split()[1])
        inside = start <= local.hour < end if start < end else (local.hour >= start or local.hour < end)
        if inside:
            floor = max(floor, -(-s.min_replicas // per))
    return min(floor, g.max_instances)
