"""Payload templates: valid bodies become requests; malformed ones are refused before any load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.bench.servers.payloads import TEMPLATES, build_request, load_json_body
from advisor.errors import AdvisorError, InputError, NotFoundError


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_json_keeps_the_urls_path(tmp_path: Path) -> None:
    body = _write(tmp_path, "b.json", '{"instances": [[1, 2, 3]]}')
    req = build_request("http://127.0.0.1:8080/predict?v=2", body_path=body)
    assert (req.base_url, req.method, req.path) == ("http://127.0.0.1:8080", "POST", "/predict?v=2")
    assert json.loads(req.body) == {"instances": [[1, 2, 3]]}
    assert req.headers["Content-Type"] == "application/json"


def test_kserve_v2_fills_the_model_path_and_checks_shapes(tmp_path: Path) -> None:
    good = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]}]}
    req = build_request("http://h:8000", template="kserve-v2", body=good, model_name="resnet")
    assert req.path == "/v2/models/resnet/infer" and req.template == "kserve-v2"
    bad = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
    with pytest.raises(InputError) as err:
        build_request("http://h:8000", template="kserve-v2", body=bad, model_name="resnet")
    assert err.value.where == "--template kserve-v2:inputs[0].data" and "needs 6" in err.value.what
    with pytest.raises(InputError, match="unknown datatype"):
        build_request(
            "http://h:8000",
            template="kserve-v2",
            model_name="m",
            body={"inputs": [{"name": "x", "shape": [1], "datatype": "FLOAT", "data": [1]}]},
        )
    with pytest.raises(InputError) as err:
        build_request("http://h:8000", template="kserve-v2", body=good)
    assert err.value.where == "--model-name"


def test_openai_templates_build_default_bodies_and_refuse_streaming() -> None:
    emb = build_request("http://h:8000", template="openai-embeddings", model_name="minilm")
    assert emb.path == "/v1/embeddings" and json.loads(emb.body)["model"] == "minilm"
    chat = build_request("http://h:8000", template="openai-chat", model_name="llama")
    body = json.loads(chat.body)
    assert chat.path == "/v1/chat/completions" and body["messages"][0]["role"] == "user"
    with pytest.raises(InputError, match="streaming"):
        build_request(
            "http://h:8000",
            template="openai-chat",
            body={"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True},
        )
    with pytest.raises(InputError, match="'input'"):
        build_request("http://h:8000", template="openai-embeddings", body={"model": "m", "input": 3})
    with pytest.raises(InputError, match="needs a model name"):
        build_request("http://h:8000", template="openai-chat")


def test_raw_template_sends_text_as_is(tmp_path: Path) -> None:
    body = _write(tmp_path, "b.csv", "a,b\n1,2\n")
    req = build_request("http://h:1/score", template="raw", body_path=body, content_type="text/csv")
    assert req.body == "a,b\n1,2\n" and req.headers["Content-Type"] == "text/csv"


def test_malformed_json_names_file_line_and_column(tmp_path: Path) -> None:
    body = _write(tmp_path, "b.json", '{\n  "instances": [1, 2,\n}\n')
    with pytest.raises(InputError) as err:
        build_request("http://h:1/p", body_path=body)
    assert err.value.where == f"{body}:3:1"
    assert "malformed JSON" in err.value.one_line() and "\n" not in err.value.one_line()


def test_bad_urls_templates_and_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not an http"):
        build_request("ftp://h/x", body={"a": 1})
    with pytest.raises(NotFoundError) as err:
        build_request("http://h:1", template="kserve", body={})
    assert "kserve-v2" in err.value.one_line()  # the closest name is suggested
    with pytest.raises(InputError, match="does not exist"):
        load_json_body(tmp_path / "missing.json")
    (tmp_path / "deep.json").write_text("[" * 200_000)
    with pytest.raises(InputError, match="nested too deeply"):
        load_json_body(tmp_path / "deep.json")
    with pytest.raises(InputError, match="needs a body"):
        build_request("http://h:1/p", template="json")
    assert set(TEMPLATES) == {"json", "kserve-v2", "openai-embeddings", "openai-chat", "raw"}


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=200), template=st.sampled_from(sorted(TEMPLATES)))
def test_any_file_content_is_accepted_or_refused_with_an_advisor_error(text: str, template: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "body"
        path.write_text(text, encoding="utf-8")
        try:
            req = build_request("http://h:1/p", template=template, body_path=path, model_name="m")
        except AdvisorError as exc:
            assert exc.where and "\n" not in exc.one_line()
        else:
            assert req.path.startswith("/")
