"""Traffic profiles from Prometheus, read through its HTTP API's range queries (``/api/v1/query_range``).

The query must return one series of requests/s, e.g. ``sum(rate(http_requests_total{service="x"}[1m]))``
(what krr and most EKS teams already record). Prometheus returns at most 11,000 points per series and
query ("exceeded maximum resolution of 11,000 points per timeseries"; Prometheus HTTP API documentation,
"Range queries"), so a long range is asked for in pages of 10,000 steps. Queries are POSTed form-encoded,
as the API allows, so a long PromQL expression never meets a URL length limit.

A step Prometheus returns no sample for (a scrape gap, a target that was down) is a gap, not zero traffic:
gaps are filled as ``fill`` says (default: interpolate between neighbours; ``zero`` reads them as no
requests), and the share filled is named in the profile's source. Only the standard library's HTTP client
is used (one POST per page; no retries: a failed page fails the import with one line).
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from advisor.errors import InputError
from advisor.redact import redact_url
from advisor.traffic.profile import DEFAULT_STEP_S, FloatArray, TrafficProfile

MAX_POINTS_PER_QUERY = 11_000  # Prometheus HTTP API, range queries (see the module docstring)
PAGE_STEPS = 10_000
TIMEOUT_S = 30.0


def parse_duration(text: str, where: str = "--since") -> pd.Timedelta:
    """``14d``, ``36h``, ``90m``, ``3600s`` or ``2w`` as a duration (Prometheus' own units)."""
    units = {"s": "s", "m": "min", "h": "h", "d": "D", "w": "W"}
    value, unit = text[:-1], text[-1:]
    if unit not in units or not value.isdigit() or int(value) <= 0:
        raise InputError(f"{text!r} is not a duration", where=where, fix="e.g. 14d, 36h, 90m or 2w")
    return pd.Timedelta(int(value), unit=units[unit])


def import_prometheus(
    url: str,
    query: str,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    step_s: int = DEFAULT_STEP_S,
    headers: Mapping[str, str] | None = None,
    fill: str = "interpolate",
    timezone: str = "UTC",
    name: str | None = None,
) -> TrafficProfile:
    """The requests/s ``query`` returns between ``start`` and ``end`` (tz-aware) at ``step_s``.

    Raises InputError (one line, never the credentials) for an unreachable server, a query Prometheus
    rejects, a query returning several series, or a range without a single sample.
    """
    base = prometheus_base(url)
    if end <= start:
        raise InputError("the range is empty", where="--since/--end")
    start = start.floor(f"{step_s}s")
    n = math.ceil((end - start).total_seconds() / step_s)
    values = range_values(base, query, start=start, steps=n, step_s=step_s, headers=headers or {})
    if np.isnan(values).all():
        raise InputError(
            f"Prometheus returned no samples for the query between {start.isoformat()} and {end.isoformat()}",
            where="--query",
            fix="check the metric and label names in Prometheus' graph page, or widen --since",
        )
    filled, note = fill_gaps(values, fill)
    return TrafficProfile.from_array(
        name or "prometheus",
        np.maximum(filled, 0.0),
        start=start.tz_convert(timezone),
        step_s=step_s,
        source=f"prometheus:{redact_url(base)} {query} step {step_s}s{note}",
    )


def prometheus_base(url: str) -> str:
    """``url`` without a trailing slash; InputError unless it is http(s)."""
    if not url.startswith(("http://", "https://")):
        raise InputError(f"{redact_url(url)} is not an http(s) URL", where="--prometheus")
    return url.rstrip("/")


def range_values(
    base: str,
    query: str,
    *,
    start: pd.Timestamp,
    steps: int,
    step_s: int,
    headers: Mapping[str, str],
    where: str = "--query",
) -> FloatArray:
    """``query``'s value at ``start + k * step_s`` for k in ``range(steps)``, NaN where Prometheus has none.

    Asked for in pages of :data:`PAGE_STEPS` (see the module docstring); InputError (``where`` naming the
    query's flag) when the query fails or gives more than one series."""
    values = np.full(steps, np.nan)
    for lo in range(0, steps, PAGE_STEPS):
        hi = min(steps, lo + PAGE_STEPS) - 1
        form = {
            "query": query,
            "start": f"{(start + pd.Timedelta(seconds=lo * step_s)).timestamp():.3f}",
            "end": f"{(start + pd.Timedelta(seconds=hi * step_s)).timestamp():.3f}",
            "step": str(step_s),
        }
        payload = _post(base, "/api/v1/query_range", form, headers, where)
        for ts, value in _samples(payload, where, "matrix"):
            slot = round((ts - start.timestamp()) / step_s)
            if 0 <= slot < steps:
                values[slot] = value
    return values


def instant_vector(
    base: str, query: str, *, at: pd.Timestamp, headers: Mapping[str, str], where: str
) -> list[tuple[dict[str, str], float]]:
    """``query``'s instant vector at ``at``: (labels, value) per series, non-finite values left out."""
    form = {"query": query, "time": f"{at.timestamp():.3f}"}
    data = _data(_post(base, "/api/v1/query", form, headers, where), where, "vector")
    out = []
    for item in data.get("result") or []:
        number = float(item["value"][1])
        if math.isfinite(number):
            out.append(({str(k): str(v) for k, v in item.get("metric", {}).items()}, number))
    return out


def fill_gaps(values: FloatArray, fill: str) -> tuple[FloatArray, str]:
    """NaN steps filled as ``fill`` says (``zero``, else interpolated), and the note that says how many."""
    series = pd.Series(values)
    filled = series.fillna(0.0) if fill == "zero" else series.interpolate(limit_direction="both")
    missing = int(series.isna().sum())
    note = f"; {missing} of {len(values)} steps had no sample ({fill})" if missing else ""
    out: FloatArray = filled.to_numpy(dtype=np.float64)
    return out, note


def _post(base: str, path: str, form: Mapping[str, str], headers: Mapping[str, str], where: str) -> Any:
    request = urllib.request.Request(
        f"{base}{path}",
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
            return _json(reply.read())
    except urllib.error.HTTPError as exc:
        payload = _json(exc.read())
        reason = payload.get("error") if isinstance(payload, dict) else None
        if exc.code in (400, 422) and reason:
            raise InputError(f"Prometheus rejected the query: {reason}", where=where) from None
        raise InputError(
            f"Prometheus at {redact_url(base)} answered HTTP {exc.code}" + (f": {reason}" if reason else ""),
            where="--prometheus",
            fix="check the URL and, if it needs one, the --header with your credentials",
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        raise InputError(
            f"cannot reach Prometheus at {redact_url(base)}: {why}",
            where="--prometheus",
            fix="check the URL and that the server is up (curl URL/-/ready)",
        ) from None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {}


def _data(payload: Any, where: str, kind: str) -> dict[str, Any]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or payload.get("status") != "success":
        raise InputError("the answer is not a Prometheus API response", where="--prometheus")
    if data.get("resultType") != kind:
        what = "a range vector" if kind == "matrix" else "an instant vector"
        raise InputError(f"the query gives a {data.get('resultType')}, not {what}", where=where)
    return data


def _samples(payload: Any, where: str, kind: str) -> list[tuple[float, float]]:
    result = _data(payload, where, kind).get("result") or []
    if len(result) > 1:
        raise InputError(
            f"the query returns {len(result)} series; a traffic profile needs one",
            where=where,
            fix="aggregate them, e.g. sum(rate(http_requests_total[1m]))",
        )
    out = []
    for ts, value in result[0]["values"] if result else []:
        number = float(value)
        if math.isfinite(number):
            out.append((float(ts), number))
    return out
