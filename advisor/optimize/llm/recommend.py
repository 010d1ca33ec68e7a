"""One language model of a scenario, recommended: its architecture, request sizes and traffic read, every GPU
option priced in the region, the plan over the day (:func:`~advisor.optimize.llm.plan.plan_llm`), and the
document's :class:`~advisor.recommendation.llm.LLMModelRecommendation` with $/M tokens, baselines and levers.

Candidates: the model's ``instance_types`` when given, else every instance type with whole GPUs or
Inferentia2 chips in the catalog (the scenario's ``candidates.exclude`` left out), priced per platform the
scenario allows (:mod:`advisor.optimize.llm.platforms`): a GPU mix is chosen from every family, whatever
families the classic models are held to. Capacities: the model's LLM bench results where they apply, the
prior calibrated by them on their devices, else the prior (:mod:`advisor.optimize.llm.evidence`). Today's
cost: the current instance type × count at its purchase option's price (SageMaker's for ``ml.`` types), all
month.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from advisor.capacity.llm import (
    CALIBRATED_BAND,
    LLMArchitecture,
    LLMMeasured,
    WeightsDtype,
    hub_id,
    instance_devices,
    preset,
    prior_band,
)
from advisor.cost.tokens import break_even_rps, token_cost
from advisor.domain import Platform, PurchaseOption
from advisor.errors import AdvisorError, ConfigError, at_field
from advisor.optimize.llm.deployment import llm_deployment, max_model_len
from advisor.optimize.llm.evidence import apply_measurements, unmodelled_options
from advisor.optimize.llm.plan import (
    LLMOption,
    LLMPlan,
    SizeBucket,
    fixed_sizes,
    llm_options,
    plan_llm,
    size_buckets,
)
from advisor.optimize.llm.platforms import LLM_PLATFORMS, priced_for
from advisor.pricing.catalog import Catalog
from advisor.recommendation.levers import Lever, LeverSaving
from advisor.recommendation.llm import (
    LLMBaseline,
    LLMInstanceGroup,
    LLMModelRecommendation,
    LLMRoute,
    LLMTokenCost,
)
from advisor.scenario.llm import PerTokenAPI, beside_scenario
from advisor.scenario.model import LLMModelSpec, Scenario
from advisor.settings import Settings
from advisor.traffic.profile import HOURS_PER_MONTH
from advisor.traffic.scenario import load_model_profile
from advisor.traffic.tokens import read_token_trace


def architecture_of(spec: LLMModelSpec, base_dir: Path | None, where: str) -> LLMArchitecture:
    try:
        if spec.llm.config is not None:
            return LLMArchitecture.from_config(beside_scenario(base_dir, spec.llm.config))
        return preset(spec.llm.model or "")
    except AdvisorError as exc:
        raise at_field(exc, f"{where}.llm") from None


def sizes_of(spec: LLMModelSpec, base_dir: Path | None, where: str) -> tuple[list[SizeBucket], int]:
    """The model's request-size buckets, and its largest request in tokens (input + output), the trace
    read once."""
    tokens = spec.tokens
    if tokens.trace is None:
        tin, tout = tokens.input or 1, tokens.output or 1
        return fixed_sizes(tin, tout), tin + tout
    try:
        trace = read_token_trace(beside_scenario(base_dir, tokens.trace))
        return size_buckets(trace), int((trace.input_tokens + trace.output_tokens).max())
    except AdvisorError as exc:
        raise at_field(exc, f"{where}.tokens.trace") from None


def _current_usd(spec: LLMModelSpec, catalog: Catalog, region: str, where: str) -> float | None:
    cur = spec.current
    if cur is None or cur.instance_type is None:
        return None
    try:
        if cur.platform is Platform.SAGEMAKER:
            price = catalog.sagemaker(region, cur.instance_type)
        elif cur.purchase_option is PurchaseOption.SPOT:
            price = catalog.spot(region, cur.instance_type)
        else:
            price = catalog.on_demand(region, cur.instance_type)
    except AdvisorError as exc:
        raise at_field(exc, f"{where}.current.instance_type") from None
    return price.usd_per_hour * cur.count * HOURS_PER_MONTH


def recommend_llm(
    spec: LLMModelSpec,
    scenario: Scenario,
    catalog: Catalog,
    settings: Settings,
    base_dir: Path | None,
    where: str,
    measured: Sequence[LLMMeasured] = (),
) -> LLMModelRecommendation:
    """The recommendation of one language model (module docstring); ConfigError at its field when no option
    serves it."""
    arch = architecture_of(spec, base_dir, where)
    dtype = WeightsDtype(spec.llm.dtype)
    buckets, largest = sizes_of(spec, base_dir, where)
    profile = load_model_profile(spec, settings, base_dir, where)
    region, excluded = scenario.region, set(scenario.candidates.exclude)
    names = spec.instance_types or tuple(n for n in catalog.instance_type_names if n not in excluded)
    itypes, unmodelled = [], []
    known = {*spec.capacities_rps, *(m.shape.removeprefix("ml.") for m in measured)}
    for name in dict.fromkeys([*names, *(k for k in spec.capacities_rps if not spec.instance_types)]):
        try:
            itype = catalog.instance(name)
        except AdvisorError as exc:
            if spec.instance_types or name in spec.capacities_rps:
                raise at_field(exc, f"{where}.instance_types") from None
            continue
        if instance_devices(itype) is not None:
            itypes.append(itype)
        elif name in known:
            unmodelled.append(itype)
    slo = (spec.slo.ttft_p99_ms, spec.slo.tpot_p99_ms)
    unpriced = llm_options(arch, dtype, itypes, lambda _n: 0.0, buckets, *slo)
    unpriced += unmodelled_options(unmodelled, buckets, spec.capacities_rps)
    plans: dict[Platform, tuple[LLMPlan, list[LLMOption]]] = {}
    ruled_out: dict[Platform, list[str]] = {}  # measured: no rate meets the SLO for any request size
    for platform in (p for p in LLM_PLATFORMS if p in scenario.platforms):
        options = apply_measurements(priced_for(platform, unpriced, catalog, region), buckets, measured, *slo)
        ruled_out[platform] = [o.name for o in options if _measured_out(o, buckets)]
        options = [o for o in options if any(v > 0 for v in o.capacity_rps.values())]
        if options:
            try:
                plans[platform] = (plan_llm(profile.rps, profile.step_s, buckets, options), options)
            except AdvisorError as exc:
                raise at_field(exc, f"{where}.tokens") from None
    if not plans:
        measured_out = sorted({name for names in ruled_out.values() for name in names})
        also = f" (measured to meet it at no rate: {', '.join(measured_out)})" if measured_out else ""
        raise ConfigError(
            f"no GPU instance type holds {arch.name} ({dtype.value}) and meets the SLO for any request "
            f"size{also}",
            where=f"{where}.slo",
            fix="allow larger GPU types (instance_types), a smaller dtype (fp8, int4), or relax the SLO",
        )
    chosen = min(plans, key=lambda p: plans[p][0].curve.usd_per_month)
    plan, options = plans[chosen]
    others = {p.value: v[0].curve.usd_per_month for p, v in plans.items() if p is not chosen}
    current = _current_usd(spec, catalog, region, where)
    note = _provenance_note(options, buckets, ruled_out[chosen])
    doc = _document(spec, arch, dtype, plan, current, note, chosen, others)
    context = max_model_len(largest, arch.max_context, spec.llm.max_model_len)
    deployment = llm_deployment(
        doc,
        spec,
        profile,
        catalog,
        context_tokens=context,
        weights=spec.llm.weights or hub_id(arch),
        bucketed=spec.tokens.trace is not None,
        daemonsets=scenario.cluster.daemonsets,
    )
    return doc.model_copy(update={"deployment": deployment})


def _document(
    spec: LLMModelSpec,
    arch: LLMArchitecture,
    dtype: WeightsDtype,
    plan: LLMPlan,
    current: float | None,
    note: str,
    platform: Platform,
    other_platforms: dict[str, float],
) -> LLMModelRecommendation:
    usd = plan.curve.usd_per_month
    keep = current is not None and current <= usd
    effective = current if keep and current is not None else usd
    seconds = HOURS_PER_MONTH * 3600.0
    tin, tout = plan.input_tokens_per_month / seconds, plan.output_tokens_per_month / seconds
    tc = token_cost(
        usd / HOURS_PER_MONTH,
        tin,
        tout,
        prefill_s_per_s=plan.prefill_share,
        decode_s_per_s=1 - plan.prefill_share,
    )
    baselines = _baselines(spec, plan, current, other_platforms)
    return LLMModelRecommendation(
        model=spec.name,
        team=spec.team,
        llm=arch.name,
        platform=platform.value,
        dtype=dtype.value,
        engine=spec.llm.engine,
        slo_ttft_p99_ms=spec.slo.ttft_p99_ms,
        slo_tpot_p99_ms=spec.slo.tpot_p99_ms,
        action="keep_current" if keep else ("change" if current is not None else "new"),
        groups=_groups(plan),
        routing=[
            LLMRoute(
                bucket=b.label,
                share_of_requests=b.share,
                input_tokens=b.input_tokens,
                output_tokens=b.output_tokens,
                to=dict(plan.peak_mix.routing.get(b.label, {})),
            )
            for b in plan.buckets
        ],
        peak_rps=plan.peak_rps,
        levels=len(plan.levels),
        start_up_s=plan.lead_s,
        usd_per_month=usd,
        current_usd_per_month=current,
        effective_usd_per_month=effective,
        input_tokens_per_month=plan.input_tokens_per_month,
        output_tokens_per_month=plan.output_tokens_per_month,
        tokens=LLMTokenCost(
            usd_per_m_input=tc.usd_per_m_input,
            usd_per_m_output=tc.usd_per_m_output,
            usd_per_m_blended=tc.usd_per_m_blended,
            input_share=tc.input_share,
            split="time" if tc.split == "time" else "ratio",
            output_tokens_per_s_per_usd_per_hour=tout / (usd / HOURS_PER_MONTH) if usd > 0 else None,
        ),
        baselines=baselines,
        break_even_rps=_break_even(plan, spec.per_token_api) if spec.per_token_api is not None else None,
        savings_by_lever=_levers(current, plan.static_peak_usd_per_month, effective),
        notes=[note],
    )


def _baselines(
    spec: LLMModelSpec, plan: LLMPlan, current: float | None, other_platforms: dict[str, float]
) -> list[LLMBaseline]:
    """The best single type over the curve, the peak mix all month, the other platform, a per-token API,
    today."""
    tokens_m = (plan.input_tokens_per_month + plan.output_tokens_per_month) / 1e6

    def blended(v: float) -> float | None:
        return v / tokens_m if tokens_m > 0 else None

    peak = " + ".join(f"{n} x {name}" for name, n in sorted(plan.peak_mix.counts.items()))
    baselines = [
        LLMBaseline(
            name="static_peak_mix",
            detail=peak,
            usd_per_month=plan.static_peak_usd_per_month,
            usd_per_m_blended=blended(plan.static_peak_usd_per_month),
        )
    ]
    if plan.best_single is not None:
        name, cost = plan.best_single
        baselines.insert(
            0,
            LLMBaseline(
                name="best_single_type",
                detail=name,
                usd_per_month=cost.usd_per_month,
                usd_per_m_blended=blended(cost.usd_per_month),
            ),
        )
    for name, usd in other_platforms.items():
        what = "SageMaker endpoints" if name == "sagemaker" else "EC2 instances"
        baselines.append(
            LLMBaseline(
                name=name,
                detail=f"the same search on {what}",
                usd_per_month=usd,
                usd_per_m_blended=blended(usd),
            )
        )
    api = spec.per_token_api
    if api is not None:
        api_usd = (
            plan.input_tokens_per_month * api.usd_per_m_input
            + plan.output_tokens_per_month * api.usd_per_m_output
        ) / 1e6
        baselines.append(
            LLMBaseline(
                name="per_token_api",
                detail=f"{api.name} ({api.source})",
                usd_per_month=api_usd,
                usd_per_m_blended=blended(api_usd),
            )
        )
    if current is not None and spec.current is not None:
        detail = f"{spec.current.count} x {spec.current.instance_type}"
        baselines.append(
            LLMBaseline(
                name="current", detail=detail, usd_per_month=current, usd_per_m_blended=blended(current)
            )
        )
    return baselines


def _break_even(plan: LLMPlan, api: PerTokenAPI) -> float:
    """The mean request rate at which the plan's monthly cost equals the API's bill for the same requests."""
    per_in = sum(b.share * b.input_tokens for b in plan.buckets)
    per_out = sum(b.share * b.output_tokens for b in plan.buckets)
    return break_even_rps(
        plan.curve.usd_per_month / HOURS_PER_MONTH, per_in, per_out, api.usd_per_m_input, api.usd_per_m_output
    )


def _measured_out(o: LLMOption, buckets: Sequence[SizeBucket]) -> bool:
    return all(o.method(b.label) == "measured" and o.capacity_rps.get(b.label, 0.0) <= 0 for b in buckets)


def _provenance_note(
    options: Sequence[LLMOption], buckets: Sequence[SizeBucket], ruled_out: Sequence[str] = ()
) -> str:
    """How the capacities of every option considered were known, counted per option and bucket; and the
    options measured to meet the SLO at no rate."""
    methods = [o.method(b.label) for o in options for b in buckets]
    counts = {k: methods.count(k) for k in ("measured", "calibrated", "prior", "given") if k in methods}
    text = f"capacities of the {len(options)} options considered (option x bucket): "
    text += ", ".join(f"{n} {k}" for k, n in counts.items())
    if ruled_out:
        text += f"; left out, measured to meet the SLO at no rate: {', '.join(ruled_out)}"
    elif "measured" not in counts:
        text += (
            "; no LLM bench run of this model applies (`advisor bench suggest --model NAME` says what to run)"
        )
    return text


def _band(o: LLMOption, bucket: str) -> float:
    """The capacity's uncertainty: none measured, the calibration's residual, the prior's held-out error on
    the device; a capacity given by hand carries none advisor could know (0)."""
    method = o.method(bucket)
    if method in ("measured", "given"):
        return 0.0
    return CALIBRATED_BAND if method == "calibrated" else prior_band(o.device)


def _summary_method(o: LLMOption, buckets: Sequence[str]) -> str:
    """One method on every bucket, that one; measured and given ones, given; else calibrated."""
    methods = {o.method(b) for b in buckets}
    if len(methods) == 1:
        return methods.pop()
    return "given" if methods == {"measured", "given"} else "calibrated"


def _groups(plan: LLMPlan) -> list[LLMInstanceGroup]:
    out = []
    steps = len(plan.curve.served_rps)
    hours_scale = HOURS_PER_MONTH / steps if steps else 0.0  # instance-steps to instance-hours a month
    for name, counts in sorted(plan.curve.counts.items()):
        if counts.max() == 0:
            continue
        o = plan.options[name]
        out.append(
            LLMInstanceGroup(
                option=name,
                instance_type=o.instance_type,
                tensor_parallel=o.tp,
                replicas_per_instance=o.replicas_per_instance,
                device=o.device,
                usd_per_hour=o.usd_per_hour,
                min_instances=int(counts.min()),
                max_instances=int(counts.max()),
                instance_hours_per_month=float(counts.sum()) * hours_scale,
                weights_gib_per_device=o.weights_gib_per_device,
                kv_cache_gib_per_device=o.kv_cache_gib_per_device,
                capacity_rps_per_instance=dict(o.capacity_rps),
                capacity_method=_summary_method(o, [b.label for b in plan.buckets]),
                capacity_methods={b.label: o.method(b.label) for b in plan.buckets},
                capacity_band={b.label: _band(o, b.label) for b in plan.buckets},
            )
        )
    return out


def _levers(current: float | None, static_peak: float, effective: float) -> list[LeverSaving]:
    """Today → the peak mix held all month (instance type) → the mix following the curve (autoscaling);
    no load balancer, spot or shared instances in an LLM plan yet. Kept as today: every part is 0."""
    if current is None:
        return []
    if effective >= current:
        return [
            LeverSaving(lever=lv, usd_per_month=0.0, usd_per_month_after=current)
            for lv in (Lever.INSTANCE_TYPE, Lever.AUTOSCALING)
        ]
    return [
        LeverSaving(
            lever=Lever.INSTANCE_TYPE, usd_per_month=current - static_peak, usd_per_month_after=static_peak
        ),
        LeverSaving(
            lever=Lever.AUTOSCALING, usd_per_month=static_peak - effective, usd_per_month_after=effective
        ),
    ]
