"""The Kubernetes applier: manifests (``manifests``: Deployment patch, HPA or KEDA ScaledObject, Karpenter
NodePools, validated), the live state read and merged (``state``), and server-side apply (``applier``).
"""
