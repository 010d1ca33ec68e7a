"""Where a model's recommendation is applied: its Auto Scaling group, endpoint, ECS service or Deployment.

A scenario's model may name its deployment target under ``deploy:``, with exactly one key::

    deploy: {aws_asg: {name: fraud-scorer-asg}}
    deploy: {sagemaker: {endpoint: search-embedder, variant: AllTraffic}}
    deploy: {ecs: {cluster: prod, service: churn-predictor}}
    deploy: {kubernetes: {namespace: ml, deployment: doc-reranker, container: server}}
    deploy: {cortex: {api: doc-reranker, cluster: ml-prod}}

The Recommendation carries the target through unchanged, so ``advisor apply`` knows what to change. Names
are checked against what each service accepts (AWS API references; Kubernetes "Object Names and IDs"), so
a typo is found when the scenario is read, not when a change is made. The target also says how the model's
nodes are run (:func:`orchestrator_of`): Kubernetes and Cortex run on EKS, an ECS service on ECS, an Auto
Scaling group as plain instances; that decides what a node really gives a replica
(:mod:`advisor.platforms.nodes`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from advisor.domain import InputModel as _Strict
from advisor.domain import Platform


# AWS API references: an Auto Scaling group name is 1-255 characters; a SageMaker endpoint or variant name
# matches ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$; ECS cluster and service names are up to 255 letters, digits,
# hyphens and underscores. Kubernetes: a namespace is a DNS-1123 label (63), a Deployment name a DNS-1123
# subdomain (253), a container name a DNS-1123 label. Cortex API names are DNS-1123 labels.
def _named(pattern: str, rule: str) -> AfterValidator:
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid name: {rule}")
        return value

    return AfterValidator(check)


SageMakerName = Annotated[
    str,
    _named(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "letters, digits and '-', at most 63, not starting with '-'"),
]
EcsName = Annotated[str, _named(r"[A-Za-z0-9_-]{1,255}", "letters, digits, '-' and '_', at most 255")]
DnsLabel = Annotated[
    str,
    _named(
        r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
        "lowercase letters, digits and '-', at most 63, starting and ending alphanumeric (DNS-1123 label)",
    ),
]
DnsSubdomain = Annotated[
    str,
    _named(
        r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?",
        "lowercase letters, digits, '-' and '.', at most 253, starting and ending alphanumeric "
        "(DNS-1123 subdomain)",
    ),
]


class Orchestrator(StrEnum):
    """What runs the replicas on an EC2 node, and so what the node keeps for itself."""

    EKS = "eks"  # kubelet, container runtime and daemonsets (aws-node, kube-proxy)
    ECS = "ecs"  # the ECS container agent
    INSTANCE = "instance"  # one server per instance (an Auto Scaling group of plain instances)


class AsgTarget(_Strict):
    name: Annotated[str, _named(r"[^:]{1,255}", "1 to 255 characters, no ':'")] = Field(
        description="Auto Scaling group name."
    )


class SageMakerTarget(_Strict):
    endpoint: SageMakerName = Field(description="SageMaker endpoint name.")
    variant: SageMakerName = Field(default="AllTraffic", description="Production variant.")


class EcsTarget(_Strict):
    cluster: EcsName
    service: EcsName


class KubernetesTarget(_Strict):
    namespace: DnsLabel = "default"
    deployment: DnsSubdomain
    container: DnsLabel | None = Field(
        default=None, description="The model server's container (default: the first)."
    )
    autoscaler: Literal["hpa", "keda"] = Field(default="hpa", description="What scales the Deployment.")
    nodes: Literal["karpenter", "cluster-autoscaler"] = Field(
        default="karpenter", description="What provisions its nodes."
    )
    prometheus_url: str = Field(
        default="http://prometheus-operated.monitoring.svc:9090",
        pattern=r"^https?://\S+$",
        description="Prometheus a KEDA prometheus trigger queries (default: the Prometheus operator's "
        "service in namespace monitoring).",
    )
    requests_query: str | None = Field(
        default=None,
        min_length=1,
        description="PromQL giving the Deployment's requests/s, for KEDA (default: the rate of "
        "http_requests_total of its namespace and deployment).",
    )
    gateway: str | None = Field(
        default=None,
        pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        description="Language models: the Gateway (name, or namespace/name) their HTTPRoute attaches to "
        "(Gateway API); none: the route is written unattached.",
    )


class CortexTarget(_Strict):
    api: DnsLabel
    cluster: DnsLabel


TargetKind = Literal["aws_asg", "sagemaker", "ecs", "kubernetes", "cortex"]
_KINDS: tuple[TargetKind, ...] = ("aws_asg", "sagemaker", "ecs", "kubernetes", "cortex")
_PLATFORMS: dict[str, tuple[Platform, ...]] = {
    "aws_asg": (Platform.EC2,),
    "sagemaker": (Platform.SAGEMAKER,),
    "ecs": (Platform.EC2, Platform.FARGATE),
    "kubernetes": (Platform.EC2,),
    "cortex": (Platform.EC2,),
}
_ORCHESTRATOR = {
    "aws_asg": Orchestrator.INSTANCE,
    "ecs": Orchestrator.ECS,
    "kubernetes": Orchestrator.EKS,
    "cortex": Orchestrator.EKS,
}


class DeployTarget(_Strict):
    """Exactly one deployment target of a model (see the module docstring)."""

    aws_asg: AsgTarget | None = None
    sagemaker: SageMakerTarget | None = None
    ecs: EcsTarget | None = None
    kubernetes: KubernetesTarget | None = None
    cortex: CortexTarget | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DeployTarget:
        given = [k for k in _PLATFORMS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "name exactly one deployment target: aws_asg, sagemaker, ecs, kubernetes or cortex"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @property
    def kind(self) -> TargetKind:
        for kind in _KINDS:
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated: exactly one target")  # pragma: no cover

    @property
    def platforms(self) -> tuple[Platform, ...]:
        """The platforms this target runs replicas on (a plan elsewhere is a migration, not a change)."""
        return _PLATFORMS[self.kind]

    @property
    def orchestrator(self) -> Orchestrator | None:
        """How this target runs replicas on EC2 nodes; None for SageMaker (it manages its instances)."""
        return _ORCHESTRATOR.get(self.kind)

    @property
    def label(self) -> str:
        """One line naming the target: ``kubernetes ml/doc-reranker``."""
        if self.aws_asg is not None:
            return f"aws_asg {self.aws_asg.name}"
        if self.sagemaker is not None:
            return f"sagemaker {self.sagemaker.endpoint}/{self.sagemaker.variant}"
        if self.ecs is not None:
            return f"ecs {self.ecs.cluster}/{self.ecs.service}"
        if self.kubernetes is not None:
            return f"kubernetes {self.kubernetes.namespace}/{self.kubernetes.deployment}"
        assert self.cortex is not None
        return f"cortex {self.cortex.cluster}/{self.cortex.api}"
