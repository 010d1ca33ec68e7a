"""How a model's deploy target scales replicas and nodes on EC2, so that its plans replay what will run.

==========================  ====================  ==========  ===========================  =================
target                      autoscaler            metric      unneeded node removed after  spot falls back
==========================  ====================  ==========  ===========================  =================
kubernetes, autoscaler hpa  HPA                   pod metric  Karpenter: the NodePool's    Karpenter: yes
                                                  (saturates) ``consolidateAfter`` (apply  cluster-autoscaler:
                                                              writes the plan's scale-down no (it retries the
                                                              window); cluster-autoscaler: node group)
                                                              600 s
kubernetes, autoscaler keda HPA (KEDA feeds it)   requests/s  as above                     as above
                                                  (external:
                                                  no cap)
aws_asg                     target tracking       ALBRequest  at scale-in (instances       no: capacity
                                                  CountPer-   terminate)                   rebalancing retries
                                                  Target                                   the other pools
ecs (EC2 capacity provider) target tracking       requests    the capacity provider's      no
                                                              managed scaling: 15 one-
                                                              minute datapoints (900 s)
cortex                      HPA (in-flight)       requests    cluster autoscaler, 600 s    yes (on-demand
                                                                                           backup)
==========================  ====================  ==========  ===========================  =================

Sources: Karpenter NodePool ``disruption.consolidateAfter``; cluster-autoscaler FAQ
(``--scale-down-unneeded-time``, 10 minutes); EC2 Auto Scaling User Guide ("Capacity Rebalancing"); ECS
Developer Guide ("Amazon ECS cluster auto scaling": managed scaling's target tracking on
CapacityProviderReservation); Cortex ``spot_config.on_demand_backup``. A model without a target, or a plan on
another platform than its target's (a migration), keeps the platform's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from advisor.cost.baselines import (
    SAGEMAKER_INSTANCE_START_S,
    TARGET_TRACKING_SCALE_IN_ALARM_S,
    TARGET_TRACKING_SCALE_IN_TOLERANCE,
    TARGET_TRACKING_SCALE_OUT_ALARM_S,
)
from advisor.cost.replay.provisioning import ec2_instance_start_s, ec2_scale_up_delay_s, fargate_task_start_s
from advisor.domain import Platform
from advisor.platforms.targets import DeployTarget
from advisor.recommendation.plan import (
    CLUSTER_AUTOSCALER_SCALE_DOWN_S,
    HPA_SCALE_DOWN_S,
    HPA_TOLERANCE,
    AutoscalerMetric,
    ScalingAlgorithm,
)

Nodes = Literal["karpenter", "cluster-autoscaler", "asg", "ecs"]


@dataclass(frozen=True)
class Ec2Scaling:
    """What scales a model's EC2 replicas and nodes (module docstring)."""

    algorithm: ScalingAlgorithm
    metric: AutoscalerMetric
    nodes: Nodes
    spot_fallback: bool

    def node_scale_down_s(self, stabilisation_s: float) -> float:
        """How long an unneeded node bills, given the plan's replica scale-down window."""
        if self.nodes == "karpenter":
            return stabilisation_s  # advisor apply writes the window as the NodePool's consolidateAfter
        if self.nodes == "cluster-autoscaler":
            return CLUSTER_AUTOSCALER_SCALE_DOWN_S
        return TARGET_TRACKING_SCALE_IN_ALARM_S if self.nodes == "ecs" else 0.0


def ec2_scaling(deploy: DeployTarget | None) -> Ec2Scaling | None:
    """The scaling of EC2 plans for a model deployed to ``deploy``; None: the platform's defaults."""
    if deploy is None:
        return None
    hpa, tracking = ScalingAlgorithm.HPA, ScalingAlgorithm.TARGET_TRACKING
    requests, pod = AutoscalerMetric.REQUESTS, AutoscalerMetric.CPU
    if deploy.kubernetes is not None:
        k = deploy.kubernetes
        metric = requests if k.autoscaler == "keda" else pod
        nodes: Nodes = "karpenter" if k.nodes == "karpenter" else "cluster-autoscaler"
        return Ec2Scaling(hpa, metric, nodes, spot_fallback=nodes == "karpenter")
    if deploy.aws_asg is not None:
        return Ec2Scaling(tracking, requests, "asg", spot_fallback=False)
    if deploy.ecs is not None:
        return Ec2Scaling(tracking, requests, "ecs", spot_fallback=False)
    if deploy.cortex is not None:
        return Ec2Scaling(hpa, requests, "cluster-autoscaler", spot_fallback=True)
    return None


@dataclass(frozen=True)
class Timing:
    """The autoscaling parameters a plan on a platform gets
    (``advisor.recommendation.plan.AutoscalingPolicy``)."""

    scale_up_delay_s: float
    scale_down_stabilisation_s: float
    tolerance: float
    scale_in_tolerance: float | None = None
    algorithm: ScalingAlgorithm | None = None
    metric: AutoscalerMetric | None = None
    node_scale_down_delay_s: float | None = None


def scaling_timing(platform: Platform, gpu: bool, image_gib: float | None, ec2: Ec2Scaling | None) -> Timing:
    """Delays, windows and bands of a plan on ``platform``: the HPA's on EC2 unless the target tracks
    targets (aws_asg, ecs), target tracking's on SageMaker and Fargate (``advisor.cost.replay.provisioning``
    for the start-ups)."""
    tracking_in = (TARGET_TRACKING_SCALE_IN_ALARM_S, 0.0, TARGET_TRACKING_SCALE_IN_TOLERANCE)
    if platform is Platform.SAGEMAKER:
        return Timing(TARGET_TRACKING_SCALE_OUT_ALARM_S + SAGEMAKER_INSTANCE_START_S, *tracking_in)
    if platform is Platform.FARGATE:
        return Timing(TARGET_TRACKING_SCALE_OUT_ALARM_S + fargate_task_start_s(image_gib), *tracking_in)
    if ec2 is None:
        return Timing(ec2_scale_up_delay_s(gpu, image_gib), HPA_SCALE_DOWN_S, HPA_TOLERANCE)
    if ec2.algorithm is ScalingAlgorithm.TARGET_TRACKING:
        delay, (down, tol, down_tol) = (
            TARGET_TRACKING_SCALE_OUT_ALARM_S + ec2_instance_start_s(gpu, image_gib),
            tracking_in,
        )
    else:
        delay, down, tol, down_tol = (
            ec2_scale_up_delay_s(gpu, image_gib),
            HPA_SCALE_DOWN_S,
            HPA_TOLERANCE,
            None,
        )
    return Timing(delay, down, tol, down_tol, ec2.algorithm, ec2.metric, ec2.node_scale_down_s(down))
