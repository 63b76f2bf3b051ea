"""``mca sandbox``: start the fake venue and print ``READY {urls}`` when it accepts connections."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from datetime import UTC, date, datetime, timedelta

from mca_sandbox.faults import FaultState, parse_plan
from mca_sandbox.server import create_app, print_ready, serve
from mca_sandbox.world import WorldConfig, build_world


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from exc


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an ISO-8601 instant, got {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _share(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1], got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    today = datetime.now(UTC).date()
    p = argparse.ArgumentParser(prog="mca sandbox", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed on the READY line)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--markets", type=int, default=2000)
    p.add_argument("--start", type=_date, default=today - timedelta(days=120))
    p.add_argument("--end", type=_date, default=today, help="last day of the simulated window (inclusive)")
    p.add_argument(
        "--as-of",
        type=_instant,
        default=None,
        help="instant the venue is observed at (fixed clock; default: end of --end) or where a live clock starts "
        "(default: start-up time)",
    )
    p.add_argument(
        "--clock",
        choices=("fixed", "live"),
        default="fixed",
        help="fixed: everything frozen at --as-of; live: the venue's now follows the wall clock times --speed",
    )
    p.add_argument(
        "--refresh",
        type=_non_negative,
        default=0.0,
        help="live clock: least wall seconds between rebuilds of the REST view (default 0 = adaptive, 1-30 s)",
    )
    p.add_argument(
        "--manipulation-rate",
        type=_non_negative,
        default=1.0,
        help="pump-and-revert and wash episodes per market per 30 days of life (0 disables)",
    )
    p.add_argument(
        "--shock-rate",
        type=_non_negative,
        default=1.0,
        help="information shocks (jumps of the truth) per event per 30 days of life (0 disables)",
    )
    p.add_argument(
        "--ambiguous-share",
        type=_share,
        default=0.15,
        help="share of events whose question texts are ambiguous (0 disables)",
    )
    p.add_argument(
        "--faults",
        default="",
        help="fault plan: JSON, @file.json or 'gamma.*:429=0.05,500=0.1;ws.market:disconnect_after=2000'",
    )
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument(
        "--speed",
        type=_non_negative,
        default=1.0,
        help="WebSocket event rate multiplier and, with --clock live, clock speed",
    )
    p.add_argument(
        "--distortion",
        default="",
        help="per-category recalibration map 'politics=ALPHA:BETA,...' (logit p_true = ALPHA + BETA logit price); "
        "'calibrated' sets every category to 0:1",
    )
    return p


def _distortion(spec: str) -> dict[str, tuple[float, float]] | None:
    if not spec:
        return None
    from mca_sandbox.world import CATEGORIES, DEFAULT_DISTORTION

    if spec == "calibrated":
        return {c: (0.0, 1.0) for c in CATEGORIES}
    out = dict(DEFAULT_DISTORTION)
    for item in spec.split(","):
        name, _, value = item.partition("=")
        alpha, _, beta = value.partition(":")
        if name not in CATEGORIES:
            raise SystemExit(f"mca sandbox: unknown category {name!r} in --distortion (known: {', '.join(CATEGORIES)})")
        out[name] = (float(alpha), float(beta))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.markets < 1:
        raise SystemExit("mca sandbox: --markets must be at least 1")
    if args.end < args.start:
        raise SystemExit("mca sandbox: --end is before --start")
    try:
        plan = parse_plan(args.faults)
    except (ValueError, OSError) as exc:
        raise SystemExit(f"mca sandbox: invalid --faults: {exc}") from exc
    config = WorldConfig(
        seed=args.seed,
        markets=args.markets,
        start=args.start,
        end=args.end,
        as_of=args.as_of,
        clock=args.clock,
        view_refresh_s=args.refresh,
        manipulation_rate=args.manipulation_rate,
        shock_rate=args.shock_rate,
        ambiguous_share=args.ambiguous_share,
    )
    distortion = _distortion(args.distortion)
    if distortion:
        config = WorldConfig(**{**config.__dict__, "distortion": distortion})
    began = time.perf_counter()
    world = build_world(config)
    sys.stderr.write(
        f"mca sandbox: {world.n_markets} markets in {world.n_events} events built in "
        f"{time.perf_counter() - began:.2f}s (seed {args.seed}, {len(world.episodes)} episodes, clock {args.clock})\n"
    )
    app = create_app(world, FaultState(plan, seed=args.fault_seed), speed=args.speed)

    async def run() -> None:
        task = asyncio.ensure_future(serve(app, args.host, args.port, print_ready))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
