"""Names that Kubernetes accepts: DNS-1123 labels for objects, label values, and architecture labels.

One place for every name advisor writes into a cluster (pool names, node labels, Job names), so that a
model called ``Fraud_Scorer v2`` gets the same slug wherever it appears. Rules from the Kubernetes
documentation, "Object Names and IDs" and "Labels and Selectors": a DNS-1123 label is at most 63 lowercase
alphanumerics or '-', starting and ending alphanumeric; a label value is at most 63 alphanumerics, '-', '_'
or '.', starting and ending alphanumeric (or empty).
"""

from __future__ import annotations

import re

from advisor.domain import Arch

MAX_LABEL_LENGTH = 63
_NOT_DNS = re.compile(r"[^a-z0-9]+")
_NOT_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]+")
_K8S_ARCH = {Arch.X86_64: "amd64", Arch.ARM64: "arm64"}


def dns_label(*parts: str, fallback: str = "model") -> str:
    """The parts joined as one label: ``("advisor-bench", "Fraud_Scorer", "c6i.large")`` ->
    ``advisor-bench-fraud-scorer-c6i-large``; ``fallback`` when nothing alphanumeric is left."""
    slug = _NOT_DNS.sub("-", "-".join(parts).lower()).strip("-")
    return (slug or fallback)[:MAX_LABEL_LENGTH].rstrip("-")


def label_value(text: str) -> str:
    """A valid label value for ``text`` (``Fraud Scorer`` -> ``Fraud-Scorer``)."""
    value = _NOT_LABEL_VALUE.sub("-", text).strip("-_.")
    return value[:MAX_LABEL_LENGTH].rstrip("-_.")


def kubernetes_arch(arch: Arch | str) -> str:
    """The ``kubernetes.io/arch`` value of an EC2 architecture (``x86_64`` -> ``amd64``)."""
    return _K8S_ARCH[Arch(arch)]
