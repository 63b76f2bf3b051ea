"""The release gate (`make release-check`): lint, types, the suite, schemathesis and a short bench pass, reported.

Writes ``<out>/release-check.md`` and ``<out>/release-check.json``: each step with its command, outcome and time,
the suite's counts, and every figure the benches print with its goal and whether it is met. A bench states a goal
on its own line as ``... <figure>: <value> ... (goal <op> <value>)``; a bench run with ``--json`` prints
``{"figures": {...}, "goals": {name: "<op> <value>"}}``. A line with a number and no goal is a figure without one.
Exit status 1 when a step fails or a stated goal is missed.

    python bench/release_check.py [--out DIR] [--skip-suite] [--pytest-args "..."]
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import re
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
SCHEMATHESIS = "tests/integration/serving/test_serving_schemathesis.py"
#: The short bench pass: small sizes, so the gate stays minutes; full sizes are `make bench`.
BENCHES = [
    ["bench/bench_ws_parse.py", "--frames", "20000", "--repeats", "2"],
    ["bench/bench_scoreboard.py", "100000"],
    ["bench/bench_backfill.py", "--days", "4", "--json"],
]
OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
GOAL = re.compile(r"\(goal\s*(>=|<=|==|>|<)\s*([0-9][0-9,.]*)")
NUMBER = re.compile(r"-?[0-9][0-9,]*\.?[0-9]*")


@dataclass
class Step:
    name: str
    command: str
    ok: bool
    seconds: float
    summary: str = ""
    output_tail: str = ""


@dataclass
class Figure:
    source: str
    name: str
    value: float | None
    text: str
    goal: str | None = None
    met: bool | None = None


@dataclass
class Report:
    started: str
    steps: list[Step] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps) and all(f.met is not False for f in self.figures)


def run(name: str, argv: list[str], timeout: float) -> tuple[Step, str]:
    began = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        out, ok = done.stdout + done.stderr, done.returncode == 0
    except subprocess.TimeoutExpired as exc:
        out, ok = f"{exc.stdout or ''}{exc.stderr or ''}\ntimed out after {timeout:.0f} s", False
    step = Step(name, shlex.join(argv), ok, time.monotonic() - began, output_tail=out[-2000:])
    return step, out


def judge(value: float, goal: str) -> bool:
    op, target = goal.split()
    return bool(OPS[op](value, float(target)))


def figures_from_text(source: str, text: str) -> list[Figure]:
    """Every printed line holding a number; those with ``(goal <op> <v>)`` are judged on the number before it."""
    found = []
    for line in text.splitlines():
        goal = GOAL.search(line)
        head = line[: goal.start()] if goal else line
        # the value follows the label: the last colon before a goal ("x at 1,000 rows: 8.5x"), else the first
        after = head.rsplit(":", 1)[-1] if goal else head.split(":", 1)[-1]
        numbers = NUMBER.findall(after) or NUMBER.findall(head)
        if not numbers:
            continue
        value = float(numbers[0].replace(",", "").rstrip(".") or "nan")
        name = head.split(":", 1)[0].strip() if ":" in head else head.strip()[:60]
        figure = Figure(source, name, value, line.strip())
        if goal:
            figure.goal = f"{goal.group(1)} {goal.group(2).replace(',', '')}"
            figure.met = judge(value, figure.goal)
        found.append(figure)
    return found


def figures_from_json(source: str, text: str) -> list[Figure]:
    payload = json.loads(text.strip().splitlines()[-1])
    goals = payload.get("goals", {})
    found = []
    for name, value in payload["figures"].items():
        number = float(value) if isinstance(value, int | float) else None
        figure = Figure(source, name, number, json.dumps(value))
        if name in goals and number is not None:
            figure.goal, figure.met = goals[name], judge(number, goals[name])
        found.append(figure)
    return found


def suite_summary(junit: Path) -> str:
    if not junit.exists():
        return "no junit report"
    suite = ET.parse(junit).getroot()
    suite = suite.find("testsuite") if suite.tag == "testsuites" else suite
    assert suite is not None
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return (
        f"{passed} passed, {counts['failures']} failed, {counts['errors']} errors, {counts['skipped']} skipped"
        f" in {float(suite.get('time', 0)):.0f} s"
    )


def markdown(report: Report) -> str:
    lines = [f"# Release check {report.started}", "", f"**{'PASS' if report.ok else 'FAIL'}**", "",
             "| step | ok | time | summary |", "|---|---|---|---|"]  # fmt: skip
    lines += [f"| {s.name} | {'yes' if s.ok else '**no**'} | {s.seconds:.0f} s | {s.summary} |" for s in report.steps]
    lines += ["", "| bench | figure | value | goal | met |", "|---|---|---|---|---|"]
    for f in report.figures:
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        value = "" if f.value is None else f"{f.value:g}"
        lines.append(f"| {f.source} | {f.name} | {value} | {f.goal or '(none stated)'} | {met} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "data" / "release-check")
    parser.add_argument("--skip-suite", action="store_true", help="lint, types, schemathesis and benches only")
    parser.add_argument("--pytest-args", default="", help="extra arguments for the suite's pytest")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report = Report(datetime.now(UTC).isoformat(timespec="seconds"))
    py = str(BIN / "python")

    for name, argv in (
        ("ruff check", [str(BIN / "ruff"), "check", "."]),
        ("ruff format", [str(BIN / "ruff"), "format", "--check", "."]),
        ("mypy", [str(BIN / "mypy")]),
    ):
        step, out = run(name, argv, 900)
        step.summary = out.strip().splitlines()[-1][:160] if out.strip() else ""
        report.steps.append(step)
    if not args.skip_suite:
        junit = args.out / "suite.xml"
        os.environ.setdefault("MCA_KILL_POINTS", "20")  # the 20 kill points (CI runs 6 for time)
        step, _ = run("suite", [str(BIN / "pytest"), "-q", f"--junitxml={junit}", *shlex.split(args.pytest_args)], 5400)
        step.summary = suite_summary(junit)
        report.steps.append(step)
    junit = args.out / "schemathesis.xml"
    step, _ = run("schemathesis", [str(BIN / "pytest"), "-q", SCHEMATHESIS, f"--junitxml={junit}"], 1800)
    step.summary = suite_summary(junit)
    report.steps.append(step)
    for bench in BENCHES:
        step, out = run(Path(bench[0]).stem, [py, *bench], 3600)
        source = Path(bench[0]).stem
        try:
            figures = figures_from_json(source, out) if "--json" in bench else figures_from_text(source, out)
        except (ValueError, KeyError, IndexError) as exc:
            step.ok, figures = False, []
            step.summary = f"unreadable output: {exc}"
        step.summary = step.summary or f"{len(figures)} figures, {sum(f.goal is not None for f in figures)} goals"
        report.steps.append(step)
        report.figures += figures if step.ok else []

    (args.out / "release-check.json").write_text(
        json.dumps({"ok": report.ok, **asdict(report)}, indent=1, default=str) + "\n"
    )
    (args.out / "release-check.md").write_text(markdown(report))
    print(markdown(report))
    print(f"written: {args.out / 'release-check.md'} and release-check.json")
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
