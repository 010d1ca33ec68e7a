"""SageMaker real-time endpoints: which instance types exist, from the AWS SDK's own service model.

The list of types a production variant accepts is the ``ProductionVariantInstanceType`` enum of the
SageMaker service model that ships with botocore (boto3's core): the same list the ``CreateEndpointConfig``
API validates against, so a type outside it is one AWS would refuse. Only those types are candidates or
baselines on SageMaker; ``ml.c7a.medium``, for example, is not one (there is no SageMaker c7a family).

A SageMaker endpoint without inference components runs one model container per instance, and the
container sees the whole instance; so a SageMaker replica's resources are the instance's own (no kubelet or
agent reserve, see :mod:`advisor.platforms.nodes`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from advisor.errors import NotFoundError, closest_names

PREFIX = "ml."


@cache
def endpoint_instance_types() -> frozenset[str]:
    """Every ``ml.*`` type a real-time endpoint's production variant accepts (botocore's service model)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape: Any = model.shape_for("ProductionVariantInstanceType")  # a StringShape, whose .enum lists them
    return frozenset(str(name) for name in shape.enum)


@cache
def endpoint_ec2_types() -> frozenset[str]:
    """The EC2 twins of :func:`endpoint_instance_types` (``c5.xlarge`` for ``ml.c5.xlarge``)."""
    return frozenset(t.removeprefix(PREFIX) for t in endpoint_instance_types())


@cache
def source() -> str:
    """Where :func:`endpoint_instance_types` comes from, with the botocore version."""
    import botocore

    return f"botocore {botocore.__version__} sagemaker service model, ProductionVariantInstanceType enum"


def is_endpoint_type(name: str) -> bool:
    """True when ``ml.<name>`` (or ``name``, already ``ml.``) is a SageMaker endpoint instance type."""
    return ml_name(name) in endpoint_instance_types()


def ml_name(name: str) -> str:
    """``c5.xlarge`` -> ``ml.c5.xlarge``; an ``ml.`` name is returned as it is."""
    return name if name.startswith(PREFIX) else PREFIX + name


def check_endpoint_type(name: str, *, where: str | None = None) -> str:
    """The ``ml.*`` name of ``name`` if SageMaker endpoints offer it; else NotFoundError with close names."""
    ml = ml_name(name)
    known = endpoint_instance_types()
    if ml not in known:
        close = closest_names(ml, known)
        raise NotFoundError(
            "SageMaker endpoint instance type",
            ml,
            where=where,
            fix=(f"did you mean {', '.join(close)}? " if close else "")
            + f"SageMaker endpoints accept only the types of the {source()}",
        )
    return ml
