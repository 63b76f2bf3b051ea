"""``mca fetch``: try one connector alone; normalised records go out as JSON lines, progress goes to stderr.

Examples (against the sandbox; drop the URL overrides for the real Polymarket APIs)::

    MCA_GAMMA_URL=http://127.0.0.1:8765/gamma mca fetch gamma-markets --closed false --max-pages 2
    mca fetch prices --token <clob token id> --start 2026-10-01 --end 2026-10-20 --fidelity 60 --out prices.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import msgspec

from mca_resources import factory
from mca_resources.errors import UpstreamError
from mca_resources.gamma import CrawlStats, GammaFilters
from mca_resources.settings import get_settings
from mca_resources.stream import MarketStream, StreamConfig
from mca_resources.subgraph import MarketTokens


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an ISO date or instant, got {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mca fetch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", default="-", help="output file, '-' for stdout (also accepted after the subcommand)")
    # DESIGN.md §9 puts --out after the subcommand; before it keeps working. SUPPRESS: absent here, the top wins.
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--out", default=argparse.SUPPRESS, help="output file, '-' for stdout")
    sub = p.add_subparsers(dest="what", required=True)
    for name in ("gamma-markets", "gamma-events"):
        g = sub.add_parser(name, parents=[out], help=f"crawl Gamma {name.split('-')[1]} (keyset)")
        for flag in ("closed", "active", "archived"):
            g.add_argument(f"--{flag}", type=_bool)
        for flag in ("end-date-min", "end-date-max", "start-date-min", "start-date-max", "tag-id", "order"):
            g.add_argument(f"--{flag}")
        g.add_argument("--ascending", type=_bool)
        g.add_argument("--id", action="append", default=[], dest="ids")
        g.add_argument("--slug", action="append", default=[], dest="slugs")
        g.add_argument("--condition-id", action="append", default=[], dest="condition_ids")
        g.add_argument("--clob-token-id", action="append", default=[], dest="clob_token_ids")
        g.add_argument("--max-pages", type=int, help="stop after this many pages (a quick look at the real API)")
    pr = sub.add_parser("prices", parents=[out], help="CLOB /prices-history of one token, windowed and merged")
    pr.add_argument("--token", required=True)
    pr.add_argument("--start", type=_instant, required=True)
    pr.add_argument("--end", type=_instant, required=True)
    pr.add_argument("--fidelity", type=int, default=60, help="minutes")
    bk = sub.add_parser("book", parents=[out], help="CLOB /book of one token")
    bk.add_argument("--token", required=True)
    st = sub.add_parser("stream", parents=[out], help="market WebSocket events of some assets for a while")
    st.add_argument("--asset", action="append", required=True, help="CLOB token id (repeatable)")
    st.add_argument("--seconds", type=float, default=10.0)
    sg = sub.add_parser(
        "subgraph", parents=[out], help="open interest, volume, trades of markets (condition:yes_token:no_token)"
    )
    sg.add_argument("--market", action="append", required=True, help="CONDITION_ID:YES_TOKEN:NO_TOKEN")
    return p


def _filters(args: argparse.Namespace) -> GammaFilters:
    names = GammaFilters.__dataclass_fields__
    values = {
        k.replace("-", "_"): v for k, v in vars(args).items() if k.replace("-", "_") in names and v not in (None, [])
    }
    return GammaFilters(**values)


def _progress(stats: CrawlStats) -> None:
    sys.stderr.write(
        f"\r{stats.mode}: {stats.pages} pages, {stats.records} records, {stats.rejected} rejected, "
        f"{stats.duplicates} duplicates"
    )
    sys.stderr.flush()


def _write(out: IO[bytes], records: Iterable[Any]) -> int:
    encoder = msgspec.json.Encoder()
    n = 0
    for record in records:
        out.write(encoder.encode(record) + b"\n")
        n += 1
    return n


async def run(args: argparse.Namespace, out: IO[bytes]) -> int:
    settings = get_settings()
    if args.what in ("gamma-markets", "gamma-events"):
        client = factory.gamma_client(settings)
        try:
            crawl_fn = client.markets if args.what == "gamma-markets" else client.events
            crawl = await crawl_fn(_filters(args), _progress, args.max_pages)
        finally:
            await client.http.aclose()
        sys.stderr.write("\n")
        n = _write(out, crawl.records)
        for rejection in crawl.rejections:
            sys.stderr.write(f"rejected {rejection.record_id}: {rejection.reason}\n")
        sys.stderr.write(f"{n} records, {len(crawl.rejections)} rejected, {crawl.stats.pages} pages\n")
        return 0
    if args.what == "prices":
        clob = factory.clob_client(settings)
        try:
            history = await clob.prices_history(args.token, args.start, args.end, fidelity_min=args.fidelity)
        finally:
            await clob.http.aclose()
        n = _write(out, history.points)
        sys.stderr.write(f"{n} points from {history.windows} windows, {len(history.rejections)} rejected\n")
        return 0
    if args.what == "book":
        clob = factory.clob_client(settings)
        try:
            book = await clob.book(args.token)
        finally:
            await clob.http.aclose()
        _write(out, [book])
        return 0
    if args.what == "stream":
        return await _stream(args, out)
    markets = []
    for spec in args.market:
        parts = spec.split(":")
        if len(parts) != 3:
            raise SystemExit(f"mca fetch subgraph: --market must be CONDITION_ID:YES_TOKEN:NO_TOKEN, got {spec!r}")
        markets.append(MarketTokens(*parts))
    subgraph = factory.subgraph_client(settings)
    try:
        report = await subgraph.metrics(markets)
    finally:
        await subgraph.http.aclose()
    _write(out, report.rows)
    for failure in report.failures:
        sys.stderr.write(f"failed chunk on {failure.subgraph} ({len(failure.ids)} ids): {failure.reason}\n")
    return 0 if report.complete else 1


async def _stream(args: argparse.Namespace, out: IO[bytes]) -> int:
    settings = get_settings()
    deadline = datetime.now(UTC) + timedelta(seconds=args.seconds)
    async with MarketStream(StreamConfig(url=settings.ws_url), args.asset) as stream:
        n = 0
        async for event in stream.iter_until(deadline):
            n += _write(out, [event])
            if n % 100 == 0:
                sys.stderr.write(f"\r{n} events, {stream.counters.reconnects} reconnects")
        sys.stderr.write(f"\n{n} events; counters: {stream.counters.as_dict()}\n")
    return 0


def _run_to(args: argparse.Namespace, out: IO[bytes]) -> int:
    try:
        return asyncio.run(run(args, out))
    except UpstreamError as exc:
        sys.stderr.write(f"\nmca fetch: {exc}\n")
        return 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.out == "-":
        return _run_to(args, sys.stdout.buffer)
    with Path(args.out).open("wb") as out:
        return _run_to(args, out)


if __name__ == "__main__":
    raise SystemExit(main())
