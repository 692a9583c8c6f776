"""`make bench`: every benchmark, one after the other, and bench/RESULTS.md with the machine and every figure.

Each benchmark is its own script (run alone for more runs or other sizes; see its docstring) and runs here
as a child process, its output shown as it comes and kept for the report. `--quick` (what `make bench`
uses) passes smaller run counts and the scaling bench's quick grid, so the whole suite fits in about ten
minutes on a 2-core machine; without it each script runs with its own defaults (much longer).

    .venv/bin/python bench/suite.py [--quick] [--only poll engine ...] [--results bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
FINDINGS = BENCH / "findings.md"


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    what: str
    quick: tuple[str, ...]
    full: tuple[str, ...] = ()


BENCHES = (
    Bench("poll", "poll.py", "listing ~10,000 failing tasks at 50 ms/request: our client vs the "
          "official SDK's sequential paging loop",
          ("--runs", "3", "--sdk-runs", "1", "--concurrency", "4", "8")),
    Bench("engine", "engine.py", "match + decide + persist CPU of a 20,000-task mass failure: indexed "
          "match vs the naive every-rule loop", ("--runs", "5")),
    Bench("overdue", "overdue.py", "missed runs: a real cycle with the listing of every task (~10,000 at 50 "
          "ms/request) against one without", ("--runs", "2")),
    Bench("reports", "reports.py", "a scheduled report from 10,000 tasks x 90 days of run history: read, "
          "build, chart; build vs matching every row against the rules again", ("--runs", "2")),
    Bench("tasks_command", "tasks_command.py", "`/tasks list` over 10,000 tasks at 50 ms/request: ours vs "
          "the sequential client", ("--runs", "20", "--baseline-runs", "1")),
    Bench("startup", "startup.py", "whole-process start-up: `--help` and a one-page `tasks --json` against "
          "the simulator, medians, and the imports that cost most", ("--runs", "9")),
    Bench("delivery", "delivery.py", "~1,000 alerts in 5 channels: our dispatcher (digests, pacing) vs one "
          "chat.postMessage per alert, against Slack's posting limit", ("--runs", "3", "--scale", "0.01")),
    Bench("scaling", "scaling.py", "one real cycle at 1k..100k tasks, 1%..100% failing: wall, CPU, peak RSS",
          ("--quick", "--plot", str(BENCH / "scaling.png")), ("--plot", str(BENCH / "scaling.png"))),
    Bench("steady", "steady.py", "the real daemon for many 1-second cycles: what grows, open fds",
          ("--seconds", "120")),
    Bench("ha", "ha.py", "failover: SIGKILL the leader of two replicas, until the new leader's first cycle",
          ("--kills", "3")),
)  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    bench: Bench
    args: tuple[str, ...]
    code: int
    seconds: float
    output: str


def run(bench: Bench, args: tuple[str, ...]) -> Outcome:
    command = [sys.executable, str(BENCH / bench.script), *args]
    print(f"\n=== {bench.name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    return Outcome(bench, args, child.returncode, time.perf_counter() - started, "".join(lines))


def machine() -> list[str]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), model)  # fmt: skip
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} CPUs, {model}, {memory} RAM, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({sys.executable})",
    ]


def machine_speed() -> float:
    """CPU seconds of a fixed pure-Python loop: a rough gauge of the machine at the time, so that runs on
    different days can be told apart. Only rough: memory-heavy work (a 20,000-task cycle) varies more; the
    same code's engine first cycle took 0.73 s of CPU on one session's VM and 2.0-2.5 s on another's, whose
    loop took 0.48-0.71 s (see findings.md)."""
    started = time.process_time()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - started


def verdicts(output: str) -> list[str]:
    """The PASS/FAIL lines; for a benchmark without them (ha.py), its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith(("PASS:", "FAIL:"))]
    return said or lines[-1:]


def report(outcomes: list[Outcome], quick: bool, total: float, speed: tuple[float, float]) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/suite.py"
        + (" --quick" if quick else "")
        + "); every figure below is from that one run. Each benchmark's own docstring says what it measures "
        "and how; run one alone for more runs or other sizes.",
        "",
        *machine(),
        f"- whole suite: {total:.0f} s",
        f"- machine speed (CPU seconds of a fixed 10M-step Python loop, lower is faster): {speed[0]:.2f} s "
        f"before the suite, {speed[1]:.2f} s after (a rough gauge, see findings.md)",
        "",
        "| benchmark | what | seconds | exit | verdicts |",
        "|---|---|---:|---:|---|",
    ]
    for o in outcomes:
        said = "<br>".join(verdicts(o.output)) or "-"
        lines.append(f"| {o.bench.name} | {o.bench.what} | {o.seconds:.0f} | {o.code} | {said} |")
    lines += ["", "Figures measured on this machine are reported as measured, including targets missed.", ""]
    if FINDINGS.exists():  # hand-written: what the curves showed, what was changed, by how much
        lines += [FINDINGS.read_text().rstrip(), ""]
    for o in outcomes:
        lines += [f"## {o.bench.name}", "", f"`python bench/{o.bench.script} {' '.join(o.args)}`".replace(
            str(BENCH) + "/", "bench/"), ""]  # fmt: skip
        table = [line for line in o.output.splitlines() if line.startswith("|")]
        if table:
            lines += [*table, ""]
        lines += ["```text", o.output.rstrip(), "```", ""]
        if o.bench.name == "scaling":
            lines += ["![scaling curves](scaling.png)", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller run counts: the suite in ~10 minutes")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES], help="run only these")
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    speed_before = machine_speed()
    started = time.perf_counter()
    outcomes = [
        run(bench, bench.quick if args.quick else bench.full)
        for bench in BENCHES
        if not args.only or bench.name in args.only
    ]
    total = time.perf_counter() - started
    speed = (speed_before, machine_speed())
    args.results.write_text(report(outcomes, args.quick, total, speed) + "\n")
    print(f"\n=== {len(outcomes)} benchmarks in {total:.0f} s; results in {args.results}")
    print(f"machine speed (10M-step Python loop): {speed[0]:.2f} s before, {speed[1]:.2f} s after")
    for o in outcomes:
        print(f"{o.bench.name:<14} exit {o.code}  {o.seconds:>5.0f} s  " + "; ".join(verdicts(o.output)))
    return 0 if all(o.code == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
