"""Test oracles and a local API server for the Kubernetes appliers (classic and language models).

The oracles: built-in kinds are checked with kubernetes-validate (strict), CRD kinds with the CRDs' OpenAPI
schemas from ../shared/schemas (skipped when absent). The API server is an HTTP server that keeps objects by
path and models server-side apply's field ownership: an apply sets what it sends, takes those fields from
other managers, and removes fields only its manager owned and no longer sends.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.helpers import SHARED

SCHEMAS = SHARED / "schemas" / "kubernetes"
CRDS = {"NodePool": "karpenter.sh_nodepools.yaml", "ScaledObject": "keda.sh_scaledobjects.yaml"}
K8S_VERSION = "1.31"
TOKEN = "s3cr3t-bearer-token-for-tests"
APPLY_PATCH = "application/apply-patch+yaml"


def by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


# ----- oracles: the real schemas ----------------------------------------------------------------------


def _openapi_to_jsonschema(node: Any) -> Any:
    """A CRD's OpenAPI v3 schema as JSON Schema, the Kubernetes extensions handled (schemas README)."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _crd_validator(kind: str, version: str) -> jsonschema.Draft7Validator:
    if not SCHEMAS.is_dir():
        pytest.skip(f"reference CRD schemas not found at {SCHEMAS}")
    crd = yaml.safe_load((SCHEMAS / CRDS[kind]).read_text(encoding="utf-8"))
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return jsonschema.Draft7Validator(_openapi_to_jsonschema(served["schema"]["openAPIV3Schema"]))


def _deployment_skeleton(patch: dict[str, Any]) -> dict[str, Any]:
    """A patch merged into the smallest Deployment the API accepts (this file's own, not the module's)."""
    whole = copy.deepcopy(patch)
    spec = whole["spec"]
    spec["selector"] = {"matchLabels": {"app": "x"}}
    spec.setdefault("template", {}).setdefault("metadata", {})["labels"] = {"app": "x"}
    for c in spec["template"].setdefault("spec", {}).setdefault("containers", []):
        c.setdefault("image", "server:1")
    return whole


def check_against_schemas(document: dict[str, Any]) -> None:
    kind = document["kind"]
    if kind in CRDS:
        validator = _crd_validator(kind, document["apiVersion"].split("/")[1])
        errors = sorted(validator.iter_errors(document), key=str)
        assert not errors, f"{kind}: {errors[0].message} at {list(errors[0].absolute_path)}"
    else:
        whole = _deployment_skeleton(document) if kind == "Deployment" else document
        kubernetes_validate.validate(whole, K8S_VERSION, strict=True)


# ----- a local API server ---------------------------------------------------------------------------------

Path_ = tuple[str, ...]


def _leaves(node: Any, prefix: Path_ = ()) -> set[Path_]:
    """Field paths an apply sets: maps by key, lists of named items by name, other lists whole."""
    if isinstance(node, dict) and node:
        return set().union(*(_leaves(v, (*prefix, k)) for k, v in node.items()))
    if isinstance(node, list) and node and all(isinstance(i, dict) and "name" in i for i in node):
        return set().union(*(_leaves(i, (*prefix, f"[name={i['name']}]")) for i in node))
    return {prefix}


def _merge(live: Any, ours: Any) -> Any:
    if isinstance(live, dict) and isinstance(ours, dict):
        return {**live, **{k: _merge(live.get(k), v) for k, v in ours.items()}}
    items = [*live, *ours] if isinstance(live, list) and isinstance(ours, list) else [None]
    named = all(isinstance(i, dict) and "name" in i for i in items)
    if named:
        mine = {i["name"]: i for i in ours}
        kept = [_merge(i, mine.pop(i["name"])) if i["name"] in mine else i for i in live]
        return kept + list(mine.values())
    return copy.deepcopy(ours)


def _remove(node: Any, path: Path_) -> None:
    head, *rest = path
    if isinstance(node, list):
        child = next((i for i in node if f"[name={i['name']}]" == head), None)
    else:
        child = node.get(head)
    if child is None:
        return
    if rest:
        _remove(child, tuple(rest))
    if not rest or child in ({}, []):
        if isinstance(node, list):
            node.remove(child)
        else:
            node.pop(head)


@dataclass
class FakeCluster:
    """Objects by API path, their fields' managers, and every request received."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    owners: dict[str, dict[str, set[Path_]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lagging: set[str] = field(default_factory=set)
    forbid: set[str] = field(default_factory=set)

    def seed(self, path: str, obj: dict[str, Any], manager: str = "helm") -> None:
        self.objects[path] = copy.deepcopy(obj)
        self.owners[path] = {manager: _leaves(obj.get("spec", {}), ("spec",))}

    def apply(self, path: str, body: dict[str, Any], manager: str) -> int:
        created = path not in self.objects
        live = self.objects.get(
            path, {"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": {}}
        )
        sent = _leaves(body.get("spec", {}), ("spec",))
        owners = self.owners.setdefault(path, {})
        others = set().union(*(p for m, p in owners.items() if m != manager))
        gone = owners.get(manager, set()) - sent - others
        merged = _merge(live, body)
        for p in sorted(gone, key=len, reverse=True):
            _remove(merged, p)
        for m in owners:
            owners[m] -= sent  # force: the fields sent change manager
        owners[manager] = sent
        meta = merged["metadata"]
        meta.setdefault("generation", 1)
        if merged["kind"] == "NodePool":  # a CRD default, as the API server fills it in
            merged["spec"]["template"]["spec"].setdefault("expireAfter", "720h")
        if merged["kind"] == "Deployment" and merged["spec"].get("template") != live.get("spec", {}).get(
            "template"
        ):
            meta["generation"] += 1
            self.lagging.add(path)
        self.objects[path] = merged
        return 201 if created else 200

    def list(self, collection: str, selector: str) -> list[dict[str, Any]]:
        """The objects directly under ``collection`` whose labels match ``selector`` (``k=v`` and ``k``
        terms, comma-separated, as the API server reads equality-based selectors)."""
        terms = [t.partition("=") for t in selector.split(",") if t]
        out = []
        for path, obj in sorted(self.objects.items()):
            if path.rsplit("/", 1)[0] != collection:
                continue
            labels = obj.get("metadata", {}).get("labels") or {}
            if all(k in labels and (not eq or labels[k] == v) for k, eq, v in terms):
                out.append(copy.deepcopy(obj))
        return out

    def get(self, path: str) -> dict[str, Any] | None:
        obj = self.objects.get(path)
        if obj is None or obj["kind"] != "Deployment":
            return obj
        if (
            path in self.lagging
        ):  # the first read after a change sees the old rollout, the next a complete one
            self.lagging.discard(path)
        else:
            replicas = obj["spec"].get("replicas", 1)
            obj["status"] = {
                "observedGeneration": obj["metadata"]["generation"],
                **dict.fromkeys(
                    ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"), replicas
                ),
            }
        return obj


def _handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _status(self, code: int, reason: str, message: str) -> None:
            self._reply(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                               "message": message, "code": code})  # fmt: skip

        def _handle(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            cluster.requests.append({
                "method": method, "path": url.path, "query": parse_qs(url.query),
                "content_type": self.headers.get("Content-Type"), "auth": self.headers.get("Authorization"),
                "body": yaml.safe_load(raw) if raw else None,
            })  # fmt: skip
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._status(401, "Unauthorized", "Unauthorized")
            if url.path in cluster.forbid:
                return self._status(403, "Forbidden", f"user cannot {method.lower()} {url.path}")
            missing = f"{url.path.rsplit('/', 1)[-1]} not found"
            if method == "GET" and "labelSelector" in parse_qs(url.query):
                selector = parse_qs(url.query)["labelSelector"][0]
                return self._reply(200, {"kind": "List", "items": cluster.list(url.path, selector)})
            if method == "GET":
                obj = cluster.get(url.path)
                return self._reply(200, obj) if obj else self._status(404, "NotFound", missing)
            if method == "DELETE":
                if cluster.objects.pop(url.path, None) is None:
                    return self._status(404, "NotFound", missing)
                cluster.owners.pop(url.path, None)
                return self._reply(200, {"kind": "Status", "status": "Success"})
            if self.headers.get("Content-Type") != APPLY_PATCH:
                return self._status(415, "UnsupportedMediaType", "only server-side apply here")
            manager = parse_qs(url.query).get("fieldManager", [""])[0]
            code = cluster.apply(url.path, cluster.requests[-1]["body"], manager)
            self._reply(code, cluster.objects[url.path])

        def do_GET(self) -> None:
            self._handle("GET")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

    return Handler


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, Path]]:
    """A local API server and a kubeconfig reaching it with the bearer token."""
    fake = FakeCluster()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "users": [{"name": "tester", "user": {"token": TOKEN}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "tester"}}],
    }), encoding="utf-8")  # fmt: skip
    yield fake, kubeconfig
    server.shutdown()
    server.server_close()
