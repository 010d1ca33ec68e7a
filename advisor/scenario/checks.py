"""Names in a scenario that must exist (region, families, instance types, bench shapes, SageMaker endpoint
types, reference servers) and servers that must be usable (command, payload, endpoint, template).

Validation of the scenario model (:mod:`advisor.scenario.model`) checks types and ranges; these checks
need the price catalog, the bench's registry of reference servers and its request builder (both passed in,
so that this module stays free of the harness). An unknown name is one ConfigError at its file:line and
field, with the closest known names — never a name silently ignored; a server that ``recommend --bench``
could not start is refused at load, not twenty minutes into a bench.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Protocol

from advisor.domain import HOST_SHAPE, Platform
from advisor.errors import AdvisorError, ConfigError, choices_hint, closest_names, unknown_hint
from advisor.platforms.sagemaker import PREFIX as SAGEMAKER_PREFIX
from advisor.platforms.sagemaker import endpoint_instance_types, is_endpoint_type, ml_name
from advisor.scenario.model import ModelSpec, Scenario
from advisor.yamlio import field_error


class KnownNames(Protocol):
    """What the checks need of the price catalog (:class:`advisor.pricing.Catalog` has them)."""

    @property
    def regions(self) -> Sequence[str]: ...

    @property
    def family_names(self) -> Sequence[str]: ...

    @property
    def instance_type_names(self) -> Sequence[str]: ...


def check_names(
    scenario: Scenario,
    catalog: KnownNames,
    source: Path | None = None,
    *,
    reference_models: Collection[str] = (),
    check_server: Callable[[ModelSpec, str, Path | None], object] | None = None,
) -> None:
    """ConfigError for the first name of ``scenario`` that the catalog (or the registry) does not know.

    ``reference_models``: the reference servers known (an empty collection skips that check);
    ``check_server(model, "models.N", scenario_folder)`` raises an error located at a field of
    ``models.N.server`` for a server that cannot be used (None skips that check).
    """
    if scenario.region not in catalog.regions:
        raise _unknown(source, ("region",), "region", scenario.region, catalog.regions)
    families = set(catalog.family_names)
    types = catalog.instance_type_names
    known_types = set(types)
    for i, family in enumerate(scenario.candidates.families):
        if family not in families:
            raise _unknown(source, ("candidates", "families", i), "instance family", family, families)
    for key in ("instance_types", "exclude"):
        for i, name in enumerate(getattr(scenario.candidates, key)):
            if name not in known_types:
                raise _unknown(source, ("candidates", key, i), "instance type", name, types)
    for i, shape in enumerate(scenario.bench.shapes):
        if shape != HOST_SHAPE and shape not in known_types:
            raise _unknown(source, ("bench", "shapes", i), "instance type", shape, types)
    for m, model in enumerate(scenario.models):
        for i, shape in enumerate(model.bench_shapes):
            if shape != HOST_SHAPE and shape not in known_types:
                raise _unknown(source, ("models", m, "bench_shapes", i), "instance type", shape, types)
        for name in model.capacities_rps:  # given per instance type, ml.* type or "fargate"
            if name.startswith(SAGEMAKER_PREFIX) and not is_endpoint_type(name):
                raise _not_an_endpoint_type(source, ("models", m, "capacities_rps", name), name)
        cur = model.current
        sagemaker_type = cur.instance_type if cur is not None and cur.platform is Platform.SAGEMAKER else None
        if sagemaker_type and not is_endpoint_type(sagemaker_type):
            raise _not_an_endpoint_type(source, ("models", m, "current", "instance_type"), sagemaker_type)
        ref = model.server.reference
        if ref is not None and reference_models and ref not in reference_models:
            raise field_error(
                source,
                ("models", m, "server", "reference"),
                f"unknown reference server {ref!r}",
                fix=choices_hint(ref, reference_models, "(or use command: / endpoint: for your own server)"),
            )
        if check_server is not None:
            try:
                check_server(model, f"models.{m}", source.parent if source is not None else None)
            except AdvisorError as exc:
                raise _in_file(source, exc) from None


def _not_an_endpoint_type(source: Path | None, loc: tuple[object, ...], name: str) -> ConfigError:
    ml = ml_name(name)
    close = closest_names(ml, endpoint_instance_types())
    return field_error(
        source,
        loc,
        f"{ml} is not a SageMaker endpoint instance type",
        fix=(f"did you mean {', '.join(close)}? " if close else "")
        + "SageMaker real-time endpoints accept only the types of botocore's ProductionVariantInstanceType",
    )


def _unknown(
    source: Path | None, loc: tuple[object, ...], kind: str, name: str, known: Collection[str]
) -> ConfigError:
    return field_error(source, loc, f"unknown {kind} {name!r}", fix=unknown_hint(kind, name, known))


def _in_file(source: Path | None, exc: AdvisorError) -> ConfigError:
    """An error located at a field (``models.0.server.payload: body.json:3``) with the field's file:line."""
    field, _, inner = (exc.where or "").partition(": ")
    loc = tuple(int(p) if p.isdigit() else p for p in field.split("."))
    return field_error(source, loc, f"{inner}: {exc.what}" if inner else exc.what, fix=exc.fix)
