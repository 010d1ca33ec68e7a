"""AWS for the apply tests: moto's server in this process, the gaps found in it filled as AWS behaves, and
the demo's deployment targets created in it as they run today.

moto 5 gaps filled here (each the way the AWS API reference describes the call):

- ``UpdateEndpoint`` is not implemented: it switches the endpoint to the named endpoint configuration's
  variants and answers ``{"EndpointArn": ...}``; the endpoint reads ``Updating`` for ``updating_reads``
  describes, then ``InService`` (``stuck=True``: never, for the verification-timeout drill);
- its SageMaker instance-type check is an old list of 66 types: replaced by botocore's own enum of
  endpoint types (the one advisor validates against);
- ECS deployments never finish without tasks: ``MOTO_ECS_SERVICE_RUNNING`` makes them ``COMPLETED``.
"""

from __future__ import annotations

import copy
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from moto.sagemaker import models as sm_models
from moto.sagemaker import responses as sm_responses
from moto.server import ThreadedMotoServer

import advisor.apply
from advisor.platforms.sagemaker import endpoint_instance_types
from advisor.recommendation.model import Recommendation

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo-scenario.yaml"
ACCOUNT = "123456789012"


@dataclass
class SageMakerBehaviour:
    updating_reads: int = 1
    stuck: bool = False
    left: dict[str, int] = field(default_factory=dict)


def _patch_moto(behaviour: SageMakerBehaviour) -> list[tuple[Any, str, Any]]:
    originals: list[tuple[Any, str, Any]] = []

    def check_type(self: Any, instance_type: str) -> None:
        if instance_type not in endpoint_instance_types():
            raise sm_models.ValidationError(message=f"Value '{instance_type}' at 'instanceType' is not valid")

    def update_endpoint(self: Any) -> Any:
        backend = self.sagemaker_backend
        name, config_name = self._get_param("EndpointName"), self._get_param("EndpointConfigName")
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise sm_models.ValidationError(message=f"Could not find endpoint '{name}'.")
        config = backend.describe_endpoint_config(config_name)
        endpoint.endpoint_config_name = config_name
        endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
        endpoint.endpoint_status = "Updating"
        behaviour.left[name] = behaviour.updating_reads
        return sm_responses.ActionResult({"EndpointArn": endpoint.arn})

    original_describe = sm_models.SageMakerModelBackend.describe_endpoint

    def describe_endpoint(self: Any, endpoint_name: str) -> Any:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is not None and endpoint.endpoint_status == "Updating" and not behaviour.stuck:
            behaviour.left[endpoint_name] = behaviour.left.get(endpoint_name, 0) - 1
            if behaviour.left[endpoint_name] < 0:
                endpoint.endpoint_status = "InService"
        return original_describe(self, endpoint_name)

    for owner, name, new in (
        (sm_models.FakeEndpointConfig, "validate_instance_type", check_type),
        (sm_responses.SageMakerResponse, "update_endpoint", update_endpoint),
        (sm_models.SageMakerModelBackend, "describe_endpoint", describe_endpoint),
    ):
        originals.append((owner, name, getattr(owner, name, None)))
        setattr(owner, name, new)
    return originals


@contextmanager
def moto_aws(
    behaviour: SageMakerBehaviour | None = None, *, ecs_tasks_start: bool = True
) -> Iterator[tuple[str, SageMakerBehaviour]]:
    """A moto server on 127.0.0.1 with the AWS environment pointing at it; its URL and SageMaker knobs.
    ``ecs_tasks_start`` False: ECS deployments stay IN_PROGRESS (no task ever runs)."""
    behaviour = behaviour or SageMakerBehaviour()
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing-secret-never-printed",
        AWS_DEFAULT_REGION="us-east-1",
        MOTO_ECS_SERVICE_RUNNING="1000" if ecs_tasks_start else "0",
    )
    originals = _patch_moto(behaviour)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's backends live in this process and outlive a server: start from an empty account
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        yield url, behaviour
    finally:
        server.stop()
        for owner, name, original in originals:
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_ENV = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
    "MOTO_ECS_SERVICE_RUNNING",
)  # fmt: skip


def apply_scenario(folder: Path) -> Path:
    """The demo scenario with a target of each AWS kind that its plan keeps: fraud-scorer on an Auto
    Scaling group (EC2, x86_64 only: one launch template), search-embedder on its SageMaker endpoint,
    churn-predictor on its ECS service (Fargate); doc-reranker stays a Kubernetes Deployment."""
    data = yaml.safe_load(DEMO.read_text())
    models = {m["name"]: m for m in data["models"]}
    models["fraud-scorer"]["deploy"] = {"aws_asg": {"name": "fraud-scorer"}}
    models["fraud-scorer"]["platforms"] = ["ec2"]
    models["fraud-scorer"]["architectures"] = ["x86_64"]  # one launch template: one architecture
    models["search-embedder"]["platforms"] = ["sagemaker"]
    models["churn-predictor"]["platforms"] = ["fargate"]
    data["name"] = "demo-apply"
    data.pop("bench", None)
    path = folder / "demo-apply.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def clients() -> dict[str, Any]:
    make: Any = boto3.client  # one client per service name (the stubs type each name's client apart)
    return {s: make(s, region_name="us-east-1") for s in _SERVICES}


_SERVICES = ("ec2", "elbv2", "autoscaling", "sagemaker", "ecs", "application-autoscaling")


def create_targets(rec: Recommendation) -> dict[str, Any]:
    """Each AWS target of ``rec`` as it runs today (the models' ``current``), behind one ALB."""
    c = clients()
    vpc = c["ec2"].create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        c["ec2"].create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    lb = c["elbv2"].create_load_balancer(Name="demo", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    sg = c["ec2"].create_security_group(GroupName="serving", Description="model servers", VpcId=vpc)[
        "GroupId"
    ]
    made: dict[str, Any] = {"clients": c}
    for m in rec.models:
        target = m.deploy
        if target is None or m.current is None:
            continue
        tg = c["elbv2"].create_target_group(Name=m.model, Protocol="HTTP", Port=80, VpcId=vpc)[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        c["elbv2"].create_listener(
            LoadBalancerArn=lb,
            Protocol="HTTP",
            Port=8000 + len(made),
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )
        count = int(m.current.count or 1)
        if target.aws_asg is not None:
            c["ec2"].create_launch_template(
                LaunchTemplateName=f"{m.model}-lt",
                LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": str(m.current.shape)},
            )
            c["autoscaling"].create_auto_scaling_group(
                AutoScalingGroupName=target.aws_asg.name,
                MinSize=count,
                MaxSize=count,
                DesiredCapacity=count,
                LaunchTemplate={"LaunchTemplateName": f"{m.model}-lt", "Version": "$Latest"},
                VPCZoneIdentifier=",".join(subnets),
                TargetGroupARNs=[tg],
            )
        if target.sagemaker is not None:
            sm = c["sagemaker"]
            sm.create_model(
                ModelName=m.model,
                ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/sagemaker",
                PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{m.model}:1"},
            )
            sm.create_endpoint_config(
                EndpointConfigName=f"{m.model}-today",
                ProductionVariants=[
                    {
                        "VariantName": target.sagemaker.variant,
                        "ModelName": m.model,
                        "InitialInstanceCount": count,
                        "InstanceType": str(m.current.shape),
                    }
                ],
            )
            sm.create_endpoint(EndpointName=target.sagemaker.endpoint, EndpointConfigName=f"{m.model}-today")
        if target.ecs is not None:
            _create_ecs(c["ecs"], target.ecs.cluster, target.ecs.service, m, count, tg, (subnets, sg))
    return made


def _create_ecs(
    ecs: Any, cluster: str, service: str, m: Any, count: int, tg: str, net: tuple[list[str], str]
) -> None:
    vcpu, gib = (float(x.rstrip("vcpugb")) for x in str(m.current.shape).split("-")[1:3])
    ecs.create_cluster(clusterName=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    ecs.register_task_definition(
        family=service,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=str(round(vcpu * 1024)),
        memory=str(round(gib * 1024)),
        containerDefinitions=[
            {
                "name": "server",
                "image": f"{service}:1",
                "essential": True,
                "portMappings": [{"containerPort": 80}],
            }
        ],
    )
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=service,
        desiredCount=count,
        launchType="FARGATE",
        loadBalancers=[{"targetGroupArn": tg, "containerName": "server", "containerPort": 80}],
        networkConfiguration={"awsvpcConfiguration": {"subnets": net[0], "securityGroups": [net[1]]}},
    )
    # moto's CreateService drops deploymentConfiguration; UpdateService keeps it (as AWS's CreateService
    # would have, with these defaults)
    ecs.update_service(
        cluster=cluster,
        service=service,
        deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
    )


def snapshot() -> dict[str, Any]:
    """Everything the AWS appliers read, as boto3 returns it (timestamps and request ids dropped)."""
    c = clients()
    out: dict[str, Any] = {
        "asg": c["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"],
        "asg_policies": c["autoscaling"].describe_policies()["ScalingPolicies"],
        "asg_actions": c["autoscaling"].describe_scheduled_actions()["ScheduledUpdateGroupActions"],
        "endpoints": [
            c["sagemaker"].describe_endpoint(EndpointName=e["EndpointName"])
            for e in c["sagemaker"].list_endpoints()["Endpoints"]
        ],
        "endpoint_configs": c["sagemaker"].list_endpoint_configs()["EndpointConfigs"],
        "task_definitions": c["ecs"].list_task_definitions()["taskDefinitionArns"],
    }
    for cluster in c["ecs"].list_clusters()["clusterArns"]:
        arns = c["ecs"].list_services(cluster=cluster)["serviceArns"]
        out[f"ecs {cluster}"] = (
            c["ecs"].describe_services(cluster=cluster, services=arns)["services"] if arns else []
        )
    for ns in ("sagemaker", "ecs"):
        aas = c["application-autoscaling"]
        out[f"aas {ns}"] = [
            aas.describe_scalable_targets(ServiceNamespace=ns)["ScalableTargets"],
            aas.describe_scaling_policies(ServiceNamespace=ns)["ScalingPolicies"],
            aas.describe_scheduled_actions(ServiceNamespace=ns)["ScheduledActions"],
        ]
    cleaned: dict[str, Any] = _clean(copy.deepcopy(out))
    return cleaned


def _clean(value: Any) -> Any:
    """Without request ids and timestamps; an empty capacity-provider strategy is no strategy (the service
    runs on its launch type either way: UpdateService takes [] to go back to it)."""
    dropped = ("ResponseMetadata", "CreationTime", "LastModifiedTime", "createdAt", "updatedAt", "id")
    if isinstance(value, dict):
        return {
            k: _clean(v)
            for k, v in value.items()
            if k not in dropped and not (k == "capacityProviderStrategy" and v == [])
        }
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def mutating_call_fails(n: int, calls: list[str]) -> Any:
    """A registry whose boto3 clients fail their ``n``-th mutating call (Describe/List/Get are reads)."""
    real = advisor.apply.default_registry

    def hook(client: Any) -> None:
        def before_call(model: Any, **_: Any) -> None:
            if model.name.startswith(("Describe", "List", "Get")):
                return
            calls.append(model.name)
            if len(calls) == n:
                from botocore.exceptions import ClientError

                raise ClientError(
                    {"Error": {"Code": "InternalFailure", "Message": "injected failure"}}, model.name
                )

        client.meta.events.register("before-call.*.*", before_call)

    def make(**kwargs: Any) -> Any:
        return real(**kwargs, client_hook=hook)

    return make
