"""What an EC2 node really gives a model's replicas: the instance, less what its orchestrator keeps.

A pod whose request equals the instance's size stays Pending: the kubelet, the operating system and the
daemonsets take their share of every node first. advisor sizes replicas per node, packing and node counts
on the **allocatable** resources computed here, never on the raw instance size.

EKS (the EKS optimized AMIs; awslabs/amazon-eks-ami, ``nodeadm/internal/kubelet/config.go`` at commit
01375496, and ``files/bootstrap.sh`` at 0158a1ea for AL2, which agree):

- kube-reserved CPU: 6 % of the first core, 1 % of the second, 0.5 % of cores 3-4 and 0.25 % of every core
  above 4 (70m on 2 vCPUs, 110m on 16);
- kube-reserved memory: 255 MiB + 11 MiB × max pods, and kubelet evicts below ``memory.available``
  100 MiB, so that much is not allocatable either ("Allocatable = Capacity - Reserved - Eviction
  Threshold", bootstrap.sh);
- max pods from the ENI limits, ``ENIs × (IPv4 per ENI − 1) + 2``, as listed per type in the AMI's
  ``eni-max-pods.txt`` (copied in ``eni_max_pods.txt`` beside this module); a type missing there gets
  kubelet's default of 110, as nodeadm does;
- the daemonsets the scenario declares take their requests and a pod slot each on every node. Default:
  ``aws-node`` 50m CPU (the VPC CNI's aws-node and network-policy agent containers request 25m each since
  CNI 1.14; aws/amazon-vpc-cni-k8s ``config/master/aws-k8s-cni.yaml`` at f3efb24f) and ``kube-proxy``
  100m CPU (the EKS add-on's DaemonSet as captured in eksctl-io/eksctl
  ``pkg/addons/default/testdata/sample-1.25.json`` at 16f64c8b); neither requests memory.

ECS on EC2 and plain instances (an Auto Scaling group running one server per instance): the ECS agent
registers the memory the kernel reports, less ``ECS_RESERVED_MEMORY`` (default 0; aws/amazon-ecs-agent
README at 00b19771). What the kernel reports is less than the instance's nominal memory ("Because of
platform memory overhead and memory occupied by the system kernel, this number is different than the
installed memory amount", Amazon ECS Developer Guide, memory-management.html); AWS's own example is an
m4.large: 8 GiB installed, 7,985 MiB available (AWS Batch User Guide, memory-management.html). advisor
applies that example's share, 2.53 %, to every type: an assumption, stated in each figure's ``basis``. All
vCPUs register (1,024 CPU units each).

SageMaker endpoints and Fargate tasks are not nodes: an endpoint instance runs one model container that
sees the whole instance (a single-model endpoint without inference components; an assumption the AWS docs
imply but do not state), and a Fargate task's size is what its containers get.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources

from pydantic import Field

from advisor.domain import FrozenModel as _Out
from advisor.domain import InputModel, InstanceType
from advisor.platforms.targets import Orchestrator

EKS_SOURCE = "EKS optimized AMI kubelet reserve (awslabs/amazon-eks-ami nodeadm config.go @01375496)"
ENI_MAX_PODS_SOURCE = "awslabs/amazon-eks-ami eni-max-pods.txt @0254c5b4"
KUBELET_DEFAULT_MAX_PODS = 110  # nodeadm's fallback, "default value from kubelet"
EVICTION_HARD_MEMORY_MIB = 100.0
# The m4.large example: 8,192 MiB installed, 7,985 MiB reported (AWS Batch User Guide, memory-management).
KERNEL_MEMORY_SHARE = (8192.0 - 7985.0) / 8192.0
MIB_PER_GIB = 1024.0
_CPU_RANGES_M = (0, 1000, 2000, 4000)
_CPU_SHARE_PER_10K = (600, 100, 50, 25)


class Daemonset(InputModel):
    """A DaemonSet every EKS node runs: its pod's CPU and memory requests."""

    name: str = Field(min_length=1, max_length=253)
    vcpu: float = Field(default=0.0, ge=0, le=64, description="CPU request in vCPUs (0.1 = 100m).")
    memory_gib: float = Field(default=0.0, ge=0, le=256, description="Memory request in GiB.")


DEFAULT_DAEMONSETS = (
    Daemonset(name="aws-node", vcpu=0.05),
    Daemonset(name="kube-proxy", vcpu=0.1),
)


class NodeAllocatable(_Out):
    """What one node of a type gives replicas on an orchestrator, and what it keeps."""

    instance_type: str
    orchestrator: Orchestrator
    vcpu: float = Field(description="vCPUs left for replicas")
    memory_gib: float = Field(description="memory left for replicas")
    gpu_count: float
    gpu_memory_gib: float
    pod_slots: int | None = Field(description="replicas the node may hold by pod count (EKS); None: no cap")
    reserved_vcpu: float = Field(description="kept by the kubelet/agent and the daemonsets")
    reserved_memory_gib: float = Field(
        description="kept by the kubelet/kernel, eviction threshold, daemonsets"
    )
    max_pods: int | None = None
    basis: str


@cache
def eni_max_pods() -> dict[str, int]:
    """Max pods per instance type from the EKS AMI's table (see the module docstring)."""
    text = resources.files("advisor.platforms").joinpath("eni_max_pods.txt").read_text(encoding="utf-8")
    out: dict[str, int] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, count = line.split()
            out[name] = int(count)
    return out


def eks_max_pods(instance_type: str) -> tuple[int, bool]:
    """(max pods, True when from the AMI's table; False: kubelet's default, 110)."""
    table = eni_max_pods()
    if instance_type in table:
        return table[instance_type], True
    return KUBELET_DEFAULT_MAX_PODS, False


def eks_cpu_reserved_millicores(vcpu: int) -> int:
    """kube-reserved CPU of the EKS AMIs for a node of ``vcpu`` vCPUs (integer millicores, as nodeadm)."""
    total = vcpu * 1000
    bounds = (*_CPU_RANGES_M, total)
    reserved = 0
    for i, share in enumerate(_CPU_SHARE_PER_10K):
        start, end = bounds[i], bounds[i + 1]
        if total <= start:
            break
        reserved += (min(total, end) - start) * share // 10000
    return reserved


def eks_memory_reserved_mib(max_pods: int) -> int:
    """kube-reserved memory of the EKS AMIs: 255 MiB + 11 MiB per pod the node may run."""
    return 11 * max_pods + 255


def allocatable(
    itype: InstanceType,
    orchestrator: Orchestrator,
    daemonsets: tuple[Daemonset, ...] = DEFAULT_DAEMONSETS,
    *,
    ecs_reserved_memory_mib: float = 0.0,
) -> NodeAllocatable:
    """The resources a node of ``itype`` leaves for replicas on ``orchestrator`` (module docstring)."""
    mem_mib = itype.memory_gib * MIB_PER_GIB
    if orchestrator is Orchestrator.EKS:
        max_pods, listed = eks_max_pods(itype.name)
        cpu_m = eks_cpu_reserved_millicores(itype.vcpu)
        kube_mem = eks_memory_reserved_mib(max_pods)
        ds_cpu = sum(d.vcpu for d in daemonsets)
        ds_mem = sum(d.memory_gib for d in daemonsets)
        reserved_vcpu = cpu_m / 1000.0 + ds_cpu
        reserved_mem = (kube_mem + EVICTION_HARD_MEMORY_MIB) / MIB_PER_GIB + ds_mem
        pods_note = (
            f"max pods {max_pods} ({ENI_MAX_PODS_SOURCE})"
            if listed
            else (f"max pods {max_pods} (kubelet default: {itype.name} is not in {ENI_MAX_PODS_SOURCE})")
        )
        basis = (
            f"{EKS_SOURCE}: kube-reserved {cpu_m}m CPU and {kube_mem} MiB, eviction at "
            f"{EVICTION_HARD_MEMORY_MIB:g} MiB; {pods_note}; daemonsets "
            + (
                ", ".join(f"{d.name} {d.vcpu * 1000:g}m/{d.memory_gib * 1024:g}Mi" for d in daemonsets)
                or "none"
            )
        )
        slots: int | None = max(0, max_pods - len(daemonsets))
    else:
        kernel = mem_mib * KERNEL_MEMORY_SHARE
        reserve = ecs_reserved_memory_mib if orchestrator is Orchestrator.ECS else 0.0
        reserved_vcpu = 0.0
        reserved_mem = (kernel + reserve) / MIB_PER_GIB
        max_pods, slots = None, None
        who = "ECS agent registers" if orchestrator is Orchestrator.ECS else "the server sees"
        basis = (
            f"{who} the kernel-reported memory: {KERNEL_MEMORY_SHARE:.2%} below nominal (assumed from AWS's "
            "m4.large example, 7,985 of 8,192 MiB)"
            + (f", less ECS_RESERVED_MEMORY {reserve:g} MiB" if orchestrator is Orchestrator.ECS else "")
            + "; every vCPU"
        )
    return NodeAllocatable(
        instance_type=itype.name,
        orchestrator=orchestrator,
        vcpu=max(0.0, itype.vcpu - reserved_vcpu),
        memory_gib=max(0.0, itype.memory_gib - reserved_mem),
        gpu_count=itype.gpu_count,
        gpu_memory_gib=max(itype.gpu_memory_gib, itype.accelerator_memory_gib),
        pod_slots=slots,
        reserved_vcpu=reserved_vcpu,
        reserved_memory_gib=reserved_mem,
        max_pods=max_pods,
        basis=basis,
    )


def replicas_fitting(
    alloc: NodeAllocatable,
    vcpu: float,
    memory_gib: float,
    gpu_count: float = 0.0,
    gpu_memory_gib: float = 0.0,
) -> int:
    """How many replicas of that request one node holds (0 when none fits)."""
    eps = 1e-9
    limits = [math.floor(alloc.vcpu / vcpu + eps), math.floor(alloc.memory_gib / memory_gib + eps)]
    if gpu_count > 0:
        limits.append(math.floor(alloc.gpu_count / gpu_count + eps))
    if gpu_memory_gib > 0:
        limits.append(math.floor(alloc.gpu_memory_gib / gpu_memory_gib + eps))
    if alloc.pod_slots is not None:
        limits.append(alloc.pod_slots)
    return max(0, min(limits))
