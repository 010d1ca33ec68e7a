"""YAML documents validated into pydantic models, with errors that name the file, line and field.

Shared by every YAML input: profile generator specs (``load_profiles/*.yaml``), plan files and scenarios.
A YAML syntax error reports the line PyYAML stopped at; a validation error reports the line of the
offending key (or of the mapping that lacks a required key) and the dotted field path, e.g.
``plans/api.yaml:14: autoscaling.target_utilisation: Input should be less than or equal to 1``.

A key given twice in one mapping (two ``name:`` or two ``models:``) is an error at the second one: YAML
leaves it undefined and PyYAML silently keeps the last, so half of what the user wrote would be ignored. A
file over :data:`MAX_YAML_BYTES` is refused before it is read (a 2,000-model scenario written like the demo's
is 0.38 MB), and documents are parsed by libyaml where PyYAML has it: that scenario reads (loaded and
composed) in 0.37 s against 4.65 s with the pure-Python parser, on the 2-core development machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from advisor.errors import ConfigError, InputError
from advisor.paths import read_text

M = TypeVar("M", bound=BaseModel)
MAX_YAML_BYTES = 4 * 2**20
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` on libyaml where available."""
    return yaml.load(text, Loader=_Loader)  # CSafeLoader or SafeLoader: safe


def compose(text: str) -> yaml.Node | None:
    """``yaml.compose`` (the node tree, with line numbers) on libyaml where available."""
    return yaml.compose(text, Loader=_Loader)


def load_yaml_model(path: Path, model: type[M], *, what: str, fix: str | None = None) -> M:
    """Read ``path`` and validate it as ``model``; any problem is one ConfigError with ``path:line``."""
    noun = what if what.endswith("file") else f"{what} file"
    if path.is_dir():
        raise ConfigError(f"the {noun} is a folder", where=str(path), fix="give the file itself")
    if not path.is_file():
        raise ConfigError(f"{noun} not found", where=str(path), fix=fix or "pass an existing YAML file")
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ConfigError(
            f"the {noun} is {size / 2**20:.1f} MiB; advisor reads YAML inputs up to"
            f" {MAX_YAML_BYTES // 2**20} MiB",
            where=str(path),
            fix=f"pass the {noun} itself (is this the right file?)",
        )
    text = read_text(path, what)
    return parse_yaml_model(text, model, where=str(path), what=what, fix=fix)


def parse_yaml_model(text: str, model: type[M], *, where: str, what: str, fix: str | None = None) -> M:
    """Validate YAML ``text`` as ``model``; ``where`` (a file name) prefixes the line in errors."""
    try:
        data = safe_load(text)
        root = compose(text)
    except RecursionError:
        raise ConfigError(
            "the YAML is nested too deeply to read", where=where, fix="flatten the document"
        ) from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise ConfigError(f"invalid YAML value ({exc})", where=where, fix="correct the value") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"invalid YAML ({problem})", where=f"{where}{at}", fix="fix the YAML syntax"
        ) from None
    check_unique_keys(root, where)
    if not isinstance(data, dict):
        raise ConfigError(
            f"a {what} must be a YAML mapping (key: value lines)",
            where=f"{where}:1",
            fix=fix or "see examples/",
        )
    try:
        return model.model_validate(data)
    except RecursionError:
        raise ConfigError("the document is nested too deeply", where=where, fix="flatten it") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        remap = getattr(model, "source_loc", None)  # a model that reshapes its input maps errors back
        if callable(remap):
            loc = remap(data, loc)
        line, path = locate(root, loc)
        msg = str(err["msg"])
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        field = ".".join(str(p) for p in path) or "(document)"
        raise ConfigError(f"{field}: {msg}", where=f"{where}:{line}", fix=fix or _fix_for(err)) from None


def check_unique_keys(root: yaml.Node | None, where: str) -> None:
    """ConfigError at the second occurrence of a key given twice in one mapping, anywhere in the document."""
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        raise ConfigError(
                            f"duplicate key {key.value!r} (first on line {seen[key.value]})",
                            where=f"{where}:{line}",
                            fix="keep one of them: YAML takes a key once per mapping",
                        )
                    seen[key.value] = line
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def field_error(source: Path | None, loc: tuple[Any, ...], what: str, fix: str | None = None) -> ConfigError:
    """A ConfigError about the field at ``loc`` of the YAML file ``source``, located as validation errors are
    (``s.yaml:12: candidates.families.1: unknown instance family 'c99x'``); just the field path without a
    file."""
    field = ".".join(str(p) for p in loc)
    if source is None or not source.is_file():
        return ConfigError(f"{field}: {what}", where=None, fix=fix)
    try:
        root = compose(read_text(source, "file"))
    except (InputError, yaml.YAMLError, RecursionError, ValueError):
        root = None
    line, _ = locate(root, loc)
    return ConfigError(f"{field}: {what}", where=f"{source}:{line}", fix=fix)


def located(exc: ConfigError, source: Path | None, top_keys: Iterable[str]) -> ConfigError:
    """``exc``, raised while a YAML file's content was used and placed at a field path (``where`` like
    ``models.0.traffic.profile``, a top-level key of ``top_keys`` first), with that field's file and line in
    ``source`` (``s.yaml:44: models.0.traffic.profile: unknown traffic profile 'x'``); any other error as
    it is."""
    field, _, inner = (exc.where or "").partition(": ")
    parts = field.split(".")
    if source is None or parts[0] not in set(top_keys) or not all(p for p in parts):
        return exc
    loc = tuple(int(p) if p.isdigit() else p for p in parts)
    return field_error(source, loc, f"{inner}: {exc.what}" if inner else exc.what, exc.fix)


def locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[int, list[Any]]:
    """The 1-based line of the deepest YAML node on ``loc``, and the loc parts that exist in the document.

    Parts that are not keys of the current mapping (pydantic's union tags such as ``diurnal`` or
    ``function-after[...]``) are skipped; a missing key is kept in the path (it names what to add).
    """
    node = root
    line = 1 if root is None else root.start_mark.line + 1
    path: list[Any] = []
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next((kv for kv in node.value if str(kv[0].value) == str(part)), None)
            if hit is None and _is_tag(part):
                continue
            path.append(part)
            if hit is None:  # a missing key: the line of the mapping that should hold it
                break
            key, node = hit
            line = (node if isinstance(node, yaml.ScalarNode) else key).start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
            path.append(part)
        elif not _is_tag(part):
            path.append(part)
    return line, path


def _is_tag(part: Any) -> bool:
    text = str(part)
    return "[" in text or text in _UNION_TAGS


_UNION_TAGS: set[str] = set()


def register_union_tags(*tags: str) -> None:
    """Tell :func:`locate` which loc parts are discriminator tags (e.g. generator kinds), not YAML keys."""
    _UNION_TAGS.update(tags)


def _fix_for(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "remove it or check its spelling"
    if err["type"] == "missing":
        return "add it"
    return "correct the value"
