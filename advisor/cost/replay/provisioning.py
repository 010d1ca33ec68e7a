"""How long a new replica takes to serve once the autoscaler asks for it: the scale-up delay plans carry.

delay = reaction + node boot + image pull + model load, per platform:

- **EC2 under the HPA**: reaction 30 s (the 15 s sync period plus metrics-server's 15 s resolution, both
  defaults); a new node, as every new replica waits for one in the replay (conservative: one that fits on a
  running node waits less); the image pulled on the new node; the model loaded.
- **Fargate**: reaction is target tracking's 3 one-minute alarm datapoints (counted by
  ``advisor.cost.baselines``); task provisioning, the image pull (Fargate caches nothing between tasks) and
  the model load.
- **SageMaker**: ``advisor.cost.baselines.SAGEMAKER_INSTANCE_START_S`` (the endpoint adds an instance and
  loads the container and the model itself).

None of the times below is published by AWS: they are assumptions of typical order (GPU nodes boot slower —
larger AMIs, driver initialisation — and serve from larger CUDA images), to be replaced by measured values.
The image pull scales with the image size a model gives (``models[].image_gib``).
"""

from __future__ import annotations

HPA_REACTION_S = 30.0
NODE_BOOT_S = {False: 90.0, True: 150.0}  # assumption: EC2 launch until the node is Ready (CPU, GPU)
FARGATE_PROVISION_S = 45.0  # assumption: task placement and ENI attachment
IMAGE_PULL_MIB_PER_S = 100.0  # assumption: pull and unpack throughput from ECR
DEFAULT_IMAGE_GIB = {False: 1.5, True: 8.0}  # assumption: a slim CPU server; a CUDA + framework image
MODEL_LOAD_S = {False: 30.0, True: 60.0}  # assumption: weights read and the first request warmed up


def image_pull_s(gpu: bool, image_gib: float | None) -> float:
    gib = DEFAULT_IMAGE_GIB[gpu] if image_gib is None else image_gib
    return gib * 1024.0 / IMAGE_PULL_MIB_PER_S


def ec2_instance_start_s(gpu: bool, image_gib: float | None = None) -> float:
    """Node boot + image pull + model load: a new EC2 node until its replica serves."""
    return NODE_BOOT_S[gpu] + image_pull_s(gpu, image_gib) + MODEL_LOAD_S[gpu]


def ec2_scale_up_delay_s(gpu: bool, image_gib: float | None = None) -> float:
    """HPA reaction + :func:`ec2_instance_start_s` for a replica on a new EC2 node."""
    return HPA_REACTION_S + ec2_instance_start_s(gpu, image_gib)


def fargate_task_start_s(image_gib: float | None = None) -> float:
    """Task provisioning + image pull + model load (Fargate has no GPUs)."""
    return FARGATE_PROVISION_S + image_pull_s(False, image_gib) + MODEL_LOAD_S[False]
