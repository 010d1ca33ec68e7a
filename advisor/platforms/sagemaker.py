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

import gzip
import importlib.util
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from advisor.errors import NotFoundError, closest_names

PREFIX = "ml."


@cache
def endpoint_instance_types() -> frozenset[str]:
    """Every ``ml.*`` type a real-time endpoint's production variant accepts (botocore's service model).

    Read from the model file botocore ships (its newest API version) when nothing can override it (no
    ``AWS_DATA_PATH``, no ``~/.aws/models/sagemaker``): importing botocore and building a session to parse
    the same file costs a quarter of a second on every ``recommend``, the file itself 40 ms. Through
    botocore's own loader otherwise, or when the file is not where botocore keeps it.
    """
    shipped = _shipped_model_file()
    if shipped is not None:
        try:
            raw = shipped.read_bytes()
            model = json.loads(gzip.decompress(raw) if shipped.suffix == ".gz" else raw)
            return frozenset(str(name) for name in model["shapes"][_ENUM_SHAPE]["enum"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    import botocore.session

    service = botocore.session.get_session().get_service_model("sagemaker")
    shape: Any = service.shape_for(_ENUM_SHAPE)  # a StringShape, whose .enum lists them
    return frozenset(str(name) for name in shape.enum)


_ENUM_SHAPE = "ProductionVariantInstanceType"


def _shipped_model_file() -> Path | None:
    """botocore's own SageMaker service model file (newest API version), without importing botocore; None
    when a user model could take its place or the file is not found."""
    if os.environ.get("AWS_DATA_PATH") or (Path.home() / ".aws" / "models" / "sagemaker").exists():
        return None
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "data" / "sagemaker"
    versions = sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []
    for name in ("service-2.json.gz", "service-2.json"):
        if versions and (versions[-1] / name).is_file():
            return versions[-1] / name
    return None


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
