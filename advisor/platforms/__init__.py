"""Platform facts, in one place and with their sources: what each platform really offers a replica.

- :mod:`advisor.platforms.sagemaker`: the instance types a SageMaker real-time endpoint accepts (the AWS
  SDK's own service model);
- :mod:`advisor.platforms.nodes`: what an EC2 node leaves for replicas on EKS, ECS or as a plain instance
  (kubelet and agent reserves, eviction threshold, max pods, daemonsets);
- :mod:`advisor.platforms.targets`: where a model's recommendation is applied (Auto Scaling group,
  SageMaker endpoint, ECS service, Kubernetes Deployment, Cortex API) and what that says about its nodes.

Prices are not here: they live in the price snapshot (:mod:`advisor.pricing`).
"""

from __future__ import annotations

from advisor.platforms.nodes import (
    DEFAULT_DAEMONSETS,
    Daemonset,
    NodeAllocatable,
    allocatable,
    replicas_fitting,
)
from advisor.platforms.sagemaker import check_endpoint_type, endpoint_instance_types, is_endpoint_type
from advisor.platforms.targets import DeployTarget, Orchestrator

__all__ = [
    "DEFAULT_DAEMONSETS",
    "Daemonset",
    "DeployTarget",
    "NodeAllocatable",
    "Orchestrator",
    "allocatable",
    "check_endpoint_type",
    "endpoint_instance_types",
    "is_endpoint_type",
    "replicas_fitting",
]
