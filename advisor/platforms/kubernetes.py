"""The Kubernetes versions advisor validates manifests against (bench Jobs, apply's Deployments, report
CronJobs), checked once here.
"""

from __future__ import annotations

import re

from advisor.errors import InputError

DEFAULT_K8S_VERSION = "1.31"  # the schema version manifests are validated against unless one is given


def check_k8s_version(version: str) -> str:
    """``version`` (``1.30``, ``v1.30.2``) when a schema exists for it; InputError at --k8s-version otherwise.

    Checked here, with numbers compared as numbers, because kubernetes-validate compares ``major.minor`` as
    strings (``"1.9" > "1.37"``) and fails with an IndexError on a version older than its first schema.
    """
    from kubernetes_validate.utils import all_versions

    def number(v: str) -> tuple[int, int]:
        major, minor = v.split(".")[:2]
        return int(major), int(minor)

    known = sorted({number(v) for v in all_versions()})
    first, last = (f"{v[0]}.{v[1]}" for v in (known[0], known[-1]))
    match = re.fullmatch(r"v?(\d{1,3})\.(\d{1,3})(?:\.\d{1,4})?", version)
    if match is None or not known[0] <= (int(match[1]), int(match[2])) <= known[-1]:
        raise InputError(
            f"no Kubernetes schema for version {version!r}",
            where="--k8s-version",
            fix=f"give a version from {first} to {last}, e.g. {DEFAULT_K8S_VERSION}",
        )
    return version
