"""Benchmark: the load generator's maximum request rate per CPU core (Locust FastHttpUser, open loop).

A minimal asyncio HTTP responder (no framework: a fixed 200 answer) runs on one CPU and the generator
process on another, so the generator is the bottleneck. Open-loop points at rising rates report the
achieved req/s and the generator's CPU %; the figure per core is achieved / (CPU / 100), and the highest
rate measured while the generator stayed under Locust's 90% CPU warning is the usable maximum of one
process (``--workers N`` adds processes). Pinning needs 2 CPUs; with one, both share it.

    .venv/bin/python benchmarks/bench_generator.py [--rates 500,1000,2000,3000,4000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request

from advisor.bench import (
    GENERATOR_CPU_LIMIT_PCT,
    LoadGenerator,
    LoadMode,
    PointSpec,
    build_request,
    free_port,
    merge_windows,
)

RESPONDER = r"""
import asyncio, sys
BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
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
            self.t.write(BODY)
async def main():
    server = await asyncio.get_running_loop().create_server(P, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="500,1000,2000,3000,4000,5000")
    parser.add_argument("--window-s", type=float, default=3.0)
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", RESPONDER, str(port)])
    try:
        if len(cpus) >= 2:
            os.sched_setaffinity(server.pid, {cpus[-1]})
        for _ in range(50):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        request = build_request(f"http://127.0.0.1:{port}/predict", body={"x": 1})
        gen_cpus = cpus[:-1] if len(cpus) >= 2 else None
        print(f"generator: one Locust process on CPU {gen_cpus or 'shared'}; responder on CPU {cpus[-1]}")
        print(
            f"{'target req/s':>12} {'achieved':>9} {'gen CPU %':>9} {'req/s per core':>14} "
            f"{'p99 ms':>7} {'valid':>6}"
        )
        best_valid = 0.0
        per_core = []
        with LoadGenerator(request, pool_users=512, cpus=gen_cpus) as gen:
            for i, rate in enumerate(float(r) for r in args.rates.split(",")):
                spec = PointSpec(
                    id=i,
                    mode=LoadMode.OPEN,
                    rate_rps=rate,
                    warmup_s=1.0,
                    window_s=args.window_s,
                    windows=2,
                    drain_s=1.0,
                    seed=i,
                )
                m = gen.measure(spec)
                pooled = merge_windows(m.windows)
                cpu = max(m.generator_cpu_pct, 1e-6)
                core_rate = pooled.achieved_rps / (cpu / 100)
                valid = m.generator_cpu_pct <= GENERATOR_CPU_LIMIT_PCT and pooled.error_rate == 0
                per_core.append(core_rate)
                if valid:
                    best_valid = max(best_valid, pooled.achieved_rps)
                print(
                    f"{rate:12.0f} {pooled.achieved_rps:9.0f} {m.generator_cpu_pct:9.0f} {core_rate:14.0f} "
                    f"{pooled.percentile_ms(0.99) or 0:7.0f} {'yes' if valid else 'no':>6}",
                    flush=True,
                )
        print(
            f"generator capacity: ~{sorted(per_core)[len(per_core) // 2]:.0f} req/s per core (median); "
            f"highest valid open-loop rate of one process: {best_valid:.0f} req/s"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
