"""Load YAML input files into pydantic models with errors that name the field path *and* the line.

``load_yaml_model(path, Model)`` parses once with PyYAML's composer (which keeps each node's position), then
validates; a validation error is mapped back from its field path (``models.1.slo.latency_p99_ms``) to the line
of that key in the file, so the user reads ``scenario.yaml:14: models[1].slo.latency_p99_ms: ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from advisor.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: Path, model: type[M], *, what: str = "file") -> M:
    """Read ``path`` as YAML and validate it as ``model``; any problem is a one-line ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", where=str(path), fix="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what}: {exc}", where=str(path)) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML: {problem}", where=f"{path}{at}", fix="fix the syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{what} must be a YAML mapping", where=str(path), fix="see `advisor init` for an example"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        line_no = line_of(node, loc)
        field = format_loc(loc)
        where = f"{path}:{line_no}" if line_no else str(path)
        value = (
            f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict | list) else ""
        )
        raise ConfigError(
            f"{field}: {err['msg']}{value}",
            where=where,
            fix=f"fix {field}"
            + (f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""),
        ) from None


def format_loc(loc: tuple[Any, ...]) -> str:
    """``('models', 1, 'slo', 'p99')`` -> ``models[1].slo.p99``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node along ``loc`` that exists in the document."""
    best = node.start_mark.line + 1 if node is not None else None
    current = node
    for part in loc:
        nxt = None
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if key.value == str(part):
                    best = key.start_mark.line + 1
                    nxt = value
                    break
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            nxt = current.value[part]
            best = nxt.start_mark.line + 1
        if nxt is None:
            break
        current = nxt
    return best
