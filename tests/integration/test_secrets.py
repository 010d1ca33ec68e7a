"""No secret reaches an output, a log or the store: planted values in URL credentials, headers, settings and
the AWS credential variables are looked for everywhere a command writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.bench.runner import free_port
from advisor.redact import MASK, redact_text, redact_url
from tests.e2e.test_bench_liveness import _synthetic
from tests.helpers import CliResult, run_cli

PLANTED = {
    "url": "PLANTEDurlpw9",
    "header": "PLANTEDapikey7",
    "smtp": "PLANTEDsmtp5",
    "aws": "PLANTEDawssecret3",
}


def test_redaction_masks_credentials_but_keeps_the_rest() -> None:
    assert redact_url("http://alice:pw@h:1/p?token=abc&n=2") == f"http://alice:{MASK}@h:1/p?token={MASK}&n=2"
    text = "GET https://u:hunter2@api/x failed; Authorization: Bearer abc.def.ghi; api_key=k1 monkey: 3"
    out = redact_text(text)
    assert "hunter2" not in out and "abc.def" not in out and "k1" not in out and "monkey: 3" in out


@pytest.mark.slow
def test_planted_secrets_appear_in_no_output_log_or_stored_row(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        "ADVISOR_HOME": str(home),
        "ADVISOR_SMTP_PASSWORD": PLANTED["smtp"],
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": PLANTED["aws"],
    }
    body = tmp_path / "body.json"
    body.write_text('{"x": 1}')
    port = free_port()
    server = _synthetic(port, slots="8", service_ms="10")
    outputs: list[CliResult] = []
    try:
        url = f"http://alice:{PLANTED['url']}@127.0.0.1:{port}/predict"
        run = run_cli(
            "bench",
            "run",
            "--endpoint",
            url,
            "--payload",
            str(body),
            "--header",
            f"X-Api-Key:{PLANTED['header']}",
            "--slo-p99-ms",
            "200",
            "--quick",
            "--max-points",
            "2",
            "--json",
            env=env,
        )
        outputs.append(run)
        assert run.code == 0, run.stderr
        report = json.loads(run.stdout)
        assert report["results"][0]["status"] == "completed"  # the credentials worked as a Basic header
        run_id = report["results"][0]["run_id"]
        for args in (
            ("bench", "show", "--json"),
            ("bench", "show", "--run", run_id, "--json"),
            ("bench", "export", "--format", "json"),
            ("recommend", "examples/demo-scenario.yaml", "--json"),
            ("pricing", "show", "--instance-type", "m5.xlarge", "--json"),
            (
                "bench",
                "run",
                "--endpoint",
                f"http://bob:{PLANTED['url']}@127.0.0.1:1/x",
                "--payload",
                str(body),
                "--slo-p99-ms",
                "100",
            ),  # nothing listens there: the error names the URL, masked
        ):
            outputs.append(run_cli(*args, env=env))
    finally:
        server.kill()
        server.wait()
    assert "nothing answers at http://127.0.0.1:1 " in outputs[-1].stderr  # said without the credentials
    written = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    for name, value in PLANTED.items():
        for out in outputs:
            assert value not in out.stdout + out.stderr, (name, out.stdout[-300:], out.stderr[-300:])
        assert value.encode() not in written, name
