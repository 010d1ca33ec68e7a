"""Benchmark: the LLM generator's open-loop accuracy while streaming (achieved vs intended rate, send lag).

A minimal asyncio responder (no framework) streams every request's answer as an OpenAI chat stream: a role
chunk, then ``--output-tokens`` content chunks ``--tpot-ms`` apart, a usage chunk and ``[DONE]``. The
generator is advisor's (:class:`advisor.bench.llm.Generators`: aiohttp on uvloop, ``--processes`` worker
processes as ``bench run --workers`` starts them). Where the host has a CPU for the responder beside one per
generator process, the responder gets it; otherwise all share the CPUs and the responder runs at nice 10,
standing in for a server on its own machine, so that what is measured is the generator. For each rate:

* **sent / intended**: requests sent in the window over the schedule's own arrivals (the generator's
  accuracy), and completed requests/s over the nominal rate;
* **send lag**: intended → actual send time, p50 and p99 (advisor marks a point invalid when over 1 % of its
  requests are more than 10 ms late);
* chunks/s read, and the generator's CPU (its processes together, % of one core).

Targets (issue 21): at 200 requests/s with 64 output tokens each, achieved within 2 % of intended and p99
send lag at most 5 ms. Measured on the 2-core development machine (20 s windows, 2026-12-05):

    processes  rate  sent/intended  done/nominal  lag p50  lag p99  chunks/s  generator CPU
    2           200         1.0000        0.9983  0.25 ms  2.98 ms    12,778           88 %
    2           100         1.0000        0.9990  0.28 ms  1.46 ms     6,394           52 %
    1           200         1.0000        0.9983  0.59 ms 15.76 ms    12,778           68 %
    1           100         1.0000        0.9990  0.42 ms  2.31 ms     6,394           39 %

One process keeps the rate but not the 5 ms at 200 requests/s: its event loop is busy reading 12,800
chunks/s, and a send waits behind a burst of them. Two meet both targets.

    .venv/bin/python benchmarks/bench_llm_loadgen.py [--rates 50,100,200] [--output-tokens 64] [--window-s 20]
        [--processes 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

import numpy as np
import psutil

from advisor.bench.llm import LLMSLO, Api, Arrival, Generators, Target, arrival_times, summarize

RESPONDER = r"""
import asyncio, json, sys
TPOT = float(sys.argv[2]) / 1000.0
N = int(sys.argv[3])
HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
def chunk(data): return b"%x\r\n%s\r\n" % (len(data), data)
ROLE = chunk(b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n')
TOKEN = chunk(b'data: {"choices":[{"index":0,"delta":{"content":" tok"}}]}\n\n')
USAGE = chunk(b'data: {"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":%d,'
              b'"total_tokens":%d}}\n\n' % (N, N + 10))
DONE = chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"
class P(asyncio.Protocol):
    def connection_made(self, t): self.t = t; self.buf = b""
    def data_received(self, data):
        self.buf += data
        while True:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep: return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length": length = int(v)
            if len(rest) < length: return
            self.buf = rest[length:]
            self.t.write(HEAD + ROLE)
            loop = asyncio.get_running_loop()
            start = loop.time()
            for i in range(N):
                loop.call_at(start + TPOT * (i + 1), self._tok, i == N - 1)
    def _tok(self, last):
        if self.t.is_closing(): return
        self.t.write(TOKEN + (USAGE + DONE if last else b""))
async def main():
    server = await asyncio.get_running_loop().create_server(P, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    await server.serve_forever()
asyncio.run(main())
"""


RESPONDER_NICE = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(responder: int) -> float:
    """CPU seconds of this process and its worker processes (not the responder)."""
    procs = [psutil.Process(), *(p for p in psutil.Process().children(recursive=True) if p.pid != responder)]
    return sum(t.user + t.system for t in (p.cpu_times() for p in procs))


def _point(
    generators: Generators,
    responder: int,
    url: str,
    rate: float,
    window_s: float,
    output_tokens: int,
    warmup_s: float,
) -> dict[str, float]:
    target = Target(url=url, api=Api.CHAT, force_fields=False)
    times = arrival_times(rate, warmup_s + window_s, seed=int(rate))
    arrivals = [
        Arrival(float(t), 10, output_tokens, target.body(f"{k} hello", output_tokens), t >= warmup_s)
        for k, t in enumerate(times)
    ]
    intended = sum(a.in_window for a in arrivals)
    cpu0, wall0 = _cpu_s(responder), time.monotonic()
    run = generators.run(target, arrivals, drain_s=10.0, slo=LLMSLO(ttft_p99_ms=1e6))
    wall = time.monotonic() - wall0
    cpu_pct = 100 * (_cpu_s(responder) - cpu0) / wall
    point = summarize(
        run.records,
        seq=0,
        offered_rps=rate,
        duration_s=window_s,
        cutoff_s=run.cutoff_s,
        slo=LLMSLO(ttft_p99_ms=1e6),
    )
    sent = sum(1 for r in run.records if r.sent_s > 0)
    chunks = sum(len(r.chunk_s) for r in run.records)
    return {
        "rate": rate,
        "intended": intended,
        "sent_over_intended": sent / intended,
        "achieved_over_nominal": point.achieved_rps / rate,
        "errors": point.errors + point.unfinished,
        "lag_p50_ms": float(np.percentile([r.send_lag_ms for r in run.records], 50)),
        "lag_p99_ms": point.send_lag_p99_ms,
        "chunks_per_s": chunks / window_s,
        "tpot_p50_ms": point.tpot_ms.p50 or 0.0,
        "generator_cpu_pct": cpu_pct,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="50,100,200")
    parser.add_argument("--output-tokens", type=int, default=64)
    parser.add_argument("--tpot-ms", type=float, default=10.0)
    parser.add_argument("--window-s", type=float, default=20.0)
    parser.add_argument("--warmup-s", type=float, default=2.0)
    parser.add_argument("--processes", type=int, default=2, help="generator processes (bench run --workers)")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", RESPONDER, str(port), str(args.tpot_ms), str(args.output_tokens)]
    )
    # the responder gets a CPU of its own only where the generator keeps one per process
    pinned = len(cpus) > args.processes
    if not pinned:  # it stands in for a server on its own machine: the generator comes first on a shared CPU
        os.setpriority(os.PRIO_PROCESS, server.pid, RESPONDER_NICE)
    if pinned:
        os.sched_setaffinity(server.pid, {cpus[0]})
        os.sched_setaffinity(0, set(cpus[1:]))
    where = f"responder on CPU {cpus[0]}, generator on {cpus[1:]}" if pinned else f"all on CPUs {cpus}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        print(
            f"streaming {args.output_tokens} tokens {args.tpot_ms:g} ms apart; window {args.window_s:g} s; "
            f"{args.processes} generator process(es); {where}"
        )
        print(f"{'rate':>6} {'intended':>8} {'sent/int':>9} {'done/nom':>9} {'err':>4} {'lag p50':>8} "
              f"{'lag p99':>8} {'chunks/s':>9} {'TPOT p50':>9} {'gen CPU%':>8}")  # fmt: skip
        with Generators(args.processes) as generators:
            for rate in (float(r) for r in args.rates.split(",")):
                m = _point(
                    generators, server.pid, url, rate, args.window_s, args.output_tokens, args.warmup_s
                )
                print(
                    f"{m['rate']:>6g} {m['intended']:>8.0f} {m['sent_over_intended']:>9.4f} "
                    f"{m['achieved_over_nominal']:>9.4f} {m['errors']:>4.0f} {m['lag_p50_ms']:>8.2f} "
                    f"{m['lag_p99_ms']:>8.2f} {m['chunks_per_s']:>9.0f} {m['tpot_p50_ms']:>9.2f} "
                    f"{m['generator_cpu_pct']:>8.0f}"
                )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
