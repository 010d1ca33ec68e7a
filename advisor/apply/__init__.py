"""``advisor apply``: put a stored recommendation on its deployment targets, with a diff first.

Appliers (one per target kind, behind :class:`Applier` and an explicit :class:`Registry`): EC2 Auto
Scaling groups, SageMaker endpoints and ECS services through boto3, Kubernetes Deployments, autoscalers and
Karpenter NodePools through server-side apply (or as files), and Cortex as files. :func:`prepare` reads and
diffs, :func:`execute` applies, verifies and rolls back on failure, :func:`rollback_changes` and
:func:`restore` undo a recorded change; every act is audited in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from advisor.apply.audit import change, history
from advisor.apply.aws.clients import AwsSession
from advisor.apply.base import (
    Applier,
    ApplyError,
    FieldChange,
    Guardrails,
    Intent,
    LLMIntent,
    Registry,
    State,
    Step,
)
from advisor.apply.runner import ApplyOutcome, ChangeSet, ModelChanges, execute, prepare
from advisor.apply.undo import restore, rollback_changes


def default_registry(
    *,
    endpoint_url: str | None = None,
    kubeconfig: Path | None = None,
    context: str | None = None,
    timeout_s: float = 900.0,
    client_hook: Callable[[Any], None] | None = None,
) -> Registry:
    """Every applier: AWS ones share one boto3 session per region (``client_hook`` sees each client).

    Appliers read everything they act on from the recommendation (shape facts included): no scenario
    file, no price catalog."""
    from advisor.apply.aws.asg import AsgApplier
    from advisor.apply.aws.ecs import EcsApplier
    from advisor.apply.aws.sagemaker import SageMakerApplier
    from advisor.apply.aws.sagemaker_llm import SageMakerLLMApplier
    from advisor.apply.cortex import CortexApplier
    from advisor.apply.kubernetes.applier import KubernetesApplier
    from advisor.apply.kubernetes.llm_applier import KubernetesLLMApplier

    sessions: dict[str, AwsSession] = {}

    def session_for(region: str) -> AwsSession:
        if region not in sessions:
            sessions[region] = AwsSession(region, endpoint_url=endpoint_url, client_hook=client_hook)
        return sessions[region]

    registry = Registry()
    registry.register(AsgApplier(session_for))
    registry.register(SageMakerApplier(session_for, timeout_s=timeout_s))
    registry.register(SageMakerLLMApplier(session_for, timeout_s=timeout_s))
    registry.register(EcsApplier(session_for))
    registry.register(KubernetesApplier(kubeconfig=kubeconfig, context=context))
    registry.register(KubernetesLLMApplier(kubeconfig=kubeconfig, context=context))
    registry.register(CortexApplier())
    return registry


__all__ = [
    "Applier",
    "ApplyError",
    "ApplyOutcome",
    "ChangeSet",
    "FieldChange",
    "Guardrails",
    "Intent",
    "LLMIntent",
    "ModelChanges",
    "Registry",
    "State",
    "Step",
    "change",
    "default_registry",
    "execute",
    "history",
    "prepare",
    "restore",
    "rollback_changes",
]
