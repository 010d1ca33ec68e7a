"""The contract every applier keeps, and the values that pass between the runner and an applier.

An applier knows one kind of deployment target (an Auto Scaling group, a SageMaker endpoint, an ECS
service, a Kubernetes Deployment, a Cortex API). It never decides anything: the recommendation did. It
translates one model's :class:`Intent` into the target's own settings and moves the live target there:

1. :meth:`Applier.read` the live state of the target, as a JSON-able :data:`State` (nested dicts of
   the settings the recommendation touches, in the service's own names, and nothing else);
2. :meth:`Applier.desired` the state the recommendation asks for, given the live one (settings the
   recommendation does not own are carried over unchanged);
3. :meth:`Applier.steps` the ordered calls that move the target from one state to another: the runner
   uses the same function to apply (live → desired) and to roll back (now → before), so a rollback is
   exactly as careful as an apply (capacity up before down);
4. :meth:`Applier.settle` waits, bounded, until the target is stable (endpoint InService, service steady);
5. verification is the runner's: read again and compare with the desired state (:func:`mismatches`).

States are compared as flattened paths (``MixedInstancesPolicy.InstancesDistribution.OnDemandBaseCapacity``),
which is also what the dry-run diff prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from advisor.errors import AdvisorError
from advisor.platforms.targets import DeployTarget
from advisor.recommendation.deployment import Deployment, NodePool
from advisor.recommendation.llm import LLMDeployment, LLMModelRecommendation
from advisor.recommendation.model import ModelRecommendation, Recommendation

State = dict[str, Any]


class ApplyError(AdvisorError):
    """A change to a live target that could not be made, verified or rolled back (exit status 1)."""

    exit_code = 1


class Refused(ApplyError):
    """A change apply will not make without ``--force`` (the reason says why, the fix how to proceed)."""


@dataclass(frozen=True)
class Guardrails:
    """Limits apply keeps whatever the recommendation says.

    ``max_disruption_pct``: the largest share of a model's replicas replaced at once (an ASG instance
    refresh's ``100 - MinHealthyPercentage``, ECS ``100 - minimumHealthyPercent``, a Deployment's
    ``maxUnavailable``, a Karpenter disruption budget). ``min_on_demand_base``: the on-demand base
    (nodes, tasks) apply never sets lower, even where the recommendation would.
    """

    max_disruption_pct: int = 25
    min_on_demand_base: int = 0
    force: bool = False  # go on where apply would refuse: a drifted target, others' scaling policies


@dataclass(frozen=True)
class Intent:
    """What one model's recommendation asks of its deployment target."""

    recommendation_id: str
    region: str
    model: ModelRecommendation
    deployment: Deployment
    pools: tuple[NodePool, ...]
    guardrails: Guardrails

    @property
    def target(self) -> DeployTarget:
        assert self.deployment.target is not None  # the runner only builds intents for targets
        return self.deployment.target

    @property
    def name(self) -> str:
        return self.model.model

    @property
    def applier_kind(self) -> str:
        """The registry key of the applier that acts on this intent: the target's kind."""
        return self.target.kind


@dataclass(frozen=True)
class LLMIntent:
    """What one language model's recommendation asks of its deployment target (its instance groups, the
    router's split, the scalers), for the appliers of kind ``<target kind>-llm``."""

    recommendation_id: str
    region: str
    model: LLMModelRecommendation
    deployment: LLMDeployment
    guardrails: Guardrails

    @property
    def target(self) -> DeployTarget:
        assert self.deployment.target is not None  # the runner only builds intents for targets
        return self.deployment.target

    @property
    def name(self) -> str:
        return self.model.model

    @property
    def applier_kind(self) -> str:
        return f"{self.target.kind}{LLM_SUFFIX}"

    @property
    def weights(self) -> str:
        """What the engine loads; ApplyError when the scenario names nothing (a config.json gives the
        model's shape, not where its weights are)."""
        weights = self.deployment.serving.weights
        if weights is None:
            raise ApplyError(
                f"no weights named for {self.name}: a config.json gives the shape, not where the weights are",
                where=f"llm.weights of {self.name}",
                fix="give llm.weights (a Hugging Face repository id, or a path the engine can read)",
            )
        return weights


LLM_SUFFIX = "-llm"
AnyIntent = Intent | LLMIntent


def llm_intent_for(
    rec: Recommendation, m: LLMModelRecommendation, guardrails: Guardrails
) -> LLMIntent | None:
    """The LLMIntent of one language model of ``rec``; None without a deployment section or target."""
    if m.deployment is None or m.deployment.target is None:
        return None
    return LLMIntent(rec.id, rec.region, m, m.deployment, guardrails)


def intent_named(rec: Recommendation, name: str, guardrails: Guardrails) -> AnyIntent | None:
    """The intent of the model called ``name`` (a classic or a language model); NotFoundError naming the
    close names when there is none."""
    llm = next((m for m in rec.llm_models if m.model == name), None)
    if llm is not None:
        return llm_intent_for(rec, llm, guardrails)
    return intent_for(rec, rec.model(name), guardrails)


def intent_for(rec: Recommendation, m: ModelRecommendation, guardrails: Guardrails) -> Intent | None:
    """The Intent of one model of ``rec``; None when it has no plan, deployment section or target."""
    if m.plan is None or m.plan.deployment is None or m.plan.deployment.target is None:
        return None
    names = set(m.plan.deployment.pools)
    return Intent(
        recommendation_id=rec.id,
        region=rec.region,
        model=m,
        deployment=m.plan.deployment,
        pools=tuple(p for p in rec.pools if p.name in names),
        guardrails=guardrails,
    )


@dataclass(frozen=True)
class Step:
    """One call that changes a target, in the order apply makes them; ``run`` makes the call."""

    description: str
    run: Callable[[], None]


Progress = Callable[[str], None]


I_contra = TypeVar("I_contra", contravariant=True)


class Applier(Protocol[I_contra]):
    """One kind of deployment target (see the module docstring): ``Applier[Intent]`` for classic models,
    ``Applier[LLMIntent]`` for language models."""

    kind: str

    def label(self, intent: I_contra) -> str:
        """The target in words: ``Auto Scaling group fraud-scorer``."""
        ...

    def read(self, intent: I_contra) -> State:
        """The live state of the settings the recommendation owns; ApplyError when the target is absent."""
        ...

    def desired(self, intent: I_contra, live: State) -> State:
        """The state the recommendation asks for, settings it does not own carried over from ``live``."""
        ...

    def steps(self, intent: I_contra, now: State, want: State) -> list[Step]:
        """The calls that move the target from ``now`` to ``want``, safest order first (no calls: equal)."""
        ...

    def settle(self, intent: I_contra, want: State, deadline_s: float, progress: Progress) -> None:
        """Wait until the target is stable, at most until ``time.monotonic() >= deadline_s``; ApplyError
        on timeout."""
        ...

    def render(self, intent: I_contra) -> Mapping[str, str]:
        """Files (name → text) describing the desired configuration without a live target: what a
        migration to this platform would create."""
        ...


@dataclass(frozen=True)
class FieldChange:
    """One setting that differs: its path, the live value and the desired one (None: absent)."""

    path: str
    before: Any
    after: Any


def flatten(state: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``a.b.c`` paths; lists stay values (compared whole). An empty dict and a None value
    are absent; keys starting with ``_`` are references an applier keeps for itself (the endpoint config
    or task definition a rollback returns to), not settings, and are not compared."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        if str(key).startswith("_") or value is None:
            continue
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def diff(now: Mapping[str, Any], want: Mapping[str, Any]) -> list[FieldChange]:
    """What differs between two states, path by path, in the desired state's order."""
    flat_now, flat_want = flatten(now), flatten(want)
    keys = list(flat_want) + [k for k in flat_now if k not in flat_want]
    return [
        FieldChange(k, flat_now.get(k), flat_want.get(k)) for k in keys if flat_now.get(k) != flat_want.get(k)
    ]


def mismatches(read_back: Mapping[str, Any], want: Mapping[str, Any]) -> list[FieldChange]:
    """Desired settings the target does not show after a change (only paths of ``want`` are checked).

    A desired absence, at any depth (None or an empty dict: an object a rollback deleted, scheduled actions
    that must be gone), is checked too: nothing may be left under it.
    """
    flat_now = flatten(read_back)
    wrong = [FieldChange(k, flat_now.get(k), v) for k, v in flatten(want).items() if flat_now.get(k) != v]
    for k in _absences(want):
        left = {p: x for p, x in flat_now.items() if p == k or p.startswith(f"{k}.")}
        if left:
            wrong.append(FieldChange(k, left, None))
    return wrong


def _absences(state: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Paths whose desired value is None or an empty dict (references, ``_…``, excluded)."""
    out: list[str] = []
    for key, value in state.items():
        if str(key).startswith("_"):
            continue
        path = f"{prefix}.{key}" if prefix else str(key)
        if value is None or (isinstance(value, Mapping) and not value):
            out.append(path)
        elif isinstance(value, Mapping):
            out += _absences(value, path)
    return out


@dataclass
class Registry:
    """Appliers by target kind (``aws_asg``, ``sagemaker``, ``ecs``, ``kubernetes``, ``cortex``)."""

    appliers: dict[str, Applier[Any]] = field(default_factory=dict)

    def register(self, applier: Applier[Any]) -> None:
        self.appliers[applier.kind] = applier

    def get(self, kind: str) -> Applier[Any]:
        if kind not in self.appliers:
            raise ApplyError(
                f"no applier for {kind} targets", fix=f"known: {', '.join(sorted(self.appliers))}"
            )
        return self.appliers[kind]

    def kinds(self) -> Sequence[str]:
        return sorted(self.appliers)
