"""Trust scores of a whole sandbox world, day by day, and their validation against the world's truth.

Shared by ``tests/integration/trust/test_trust_validation.py`` (floors) and ``bench/bench_trust.py`` (figures).

Inputs are what the venue shows, read over loopback HTTP: Gamma markets (texts, category, liquidity, spread,
end date, normalised by our own ``normalize``/``universe``) and, per market, the hourly market price, cumulative
volume and open interest of ``/_truth/markets/{id}?paths=1`` (the prices-history grid; the warehouse has no
hourly volume or open interest yet). The answer key (``/_truth/episodes``, the clarity flag, labels and outcomes)
is read only to score the results. Every day ``d`` of the window is scored as of the end of ``d``, with the
segment record of 1d forecasts resolved in the 90 days before ``d``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import numpy as np
import polars as pl

from mca_core.clarity import AMBIGUOUS_BELOW, rule_clarity
from mca_core.metrics import brier_bootstrap_ci, wilson_interval
from mca_core.segments import LiquidityEdges
from mca_core.trust import segment_records, trust_scores
from mca_core.trust_params import TrustConfig
from mca_core.universe import markets_frame
from mca_resources import factory
from mca_resources.settings import Settings

MANIPULATION_KINDS = ("pump_and_revert", "wash")
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class WorldInputs:
    """Everything the venue shows about the world, as frames."""

    gamma: list  # normalised Gamma markets (mca_core.records.Market)
    texts: pl.DataFrame  # market_id, question, description, resolution_source
    paths: pl.DataFrame  # market_id, ts, p_yes, volume_usd, open_interest_usd
    truth: pl.DataFrame  # market_id, clear, label, outcome, resolved_ts
    episodes: pl.DataFrame  # market_id, kind, start_ts, end_ts


def _utc(seconds: pl.Expr) -> pl.Expr:
    return pl.from_epoch(seconds, time_unit="s").dt.replace_time_zone("UTC")


def read_world(base: str) -> WorldInputs:
    """Crawl the sandbox at ``base`` (``http://127.0.0.1:port``)."""
    settings = Settings(gamma_url=f"{base}/gamma")
    crawl = asyncio.run(factory.gamma_client(settings).markets())
    gamma = crawl.records
    texts = pl.DataFrame(
        [(m.market_id, m.question, m.description, m.resolution_source) for m in gamma],
        schema=["market_id", "question", "description", "resolution_source"],
        orient="row",
    )
    with httpx.Client(base_url=base, timeout=30) as client:
        truth_items = client.get("/_truth/markets", params={"limit": 10_000}).json()["markets"]
        episodes = client.get("/_truth/episodes", params={"limit": 10_000}).json()["episodes"]
        frames = []
        for item in truth_items:
            path = client.get(f"/_truth/markets/{item['market_id']}", params={"paths": 1}).json()["paths"]
            frames.append(
                pl.DataFrame(
                    {
                        "market_id": item["market_id"],
                        "t": path["t"],
                        "p_yes": path["p_market"],
                        "volume_usd": path["volume"],
                        "open_interest_usd": path["open_interest"],
                    },
                    schema={
                        "market_id": pl.String,
                        "t": pl.Int64,
                        "p_yes": pl.Float64,
                        "volume_usd": pl.Float64,
                        "open_interest_usd": pl.Float64,
                    },
                )
            )
    paths = pl.concat(frames).select(
        "market_id", _utc(pl.col("t")).alias("ts"), "p_yes", "volume_usd", "open_interest_usd"
    )
    truth = pl.DataFrame(
        [(t["market_id"], t["clarity"]["clear"], t["label"], t["outcome"], t["resolved_ts"]) for t in truth_items],
        schema={
            "market_id": pl.String,
            "clear": pl.Boolean,
            "label": pl.String,
            "outcome": pl.Int64,
            "resolved_ts": pl.Int64,
        },
        orient="row",
    ).with_columns(_utc(pl.col("resolved_ts")).alias("resolved_ts"))
    episode_frame = pl.DataFrame(
        [(e["market_id"], e["kind"], e["start_ts"], e["end_ts"]) for e in episodes],
        schema={"market_id": pl.String, "kind": pl.String, "start_ts": pl.Int64, "end_ts": pl.Int64},
        orient="row",
    ).with_columns(_utc(pl.col("start_ts")), _utc(pl.col("end_ts")))
    return WorldInputs(gamma, texts, paths, truth, episode_frame)


def _forecasts_1d(world: WorldInputs) -> pl.DataFrame:
    """The 1d-horizon forecast of every resolved market: its last price at or before resolution - 1 day."""
    resolved = world.truth.filter(pl.col("label").is_in(["RESOLVED_TRUE", "RESOLVED_FALSE"])).select(
        "market_id", "resolved_ts", pl.col("outcome").alias("y"), (pl.col("resolved_ts") - _DAY).alias("cutoff")
    )
    return (
        resolved.sort("cutoff")
        .join_asof(
            world.paths.sort("ts"),
            left_on="cutoff",
            right_on="ts",
            by="market_id",
            strategy="backward",
            check_sortedness=False,
        )
        .filter(pl.col("p_yes").is_not_null())
        .with_columns(pl.col("resolved_ts").dt.date().alias("cohort"))
    )


def score_days(world: WorldInputs, days: list[date], config: TrustConfig) -> pl.DataFrame:
    """Trust of every market live on each day: Gamma's universe of the day with path points in the day."""
    edges = LiquidityEdges(10_000.0, 100_000.0)
    clarity = rule_clarity(world.texts)
    every_day = [days[0] - timedelta(days=i) for i in range(90, 0, -1)] + days
    universe = {d: markets_frame(world.gamma, {}, d, edges) for d in every_day}
    segments = pl.concat(universe.values()).select("market_id", "category", "liquidity_bucket").unique("market_id")
    forecasts = _forecasts_1d(world).join(segments, on="market_id")
    out = []
    for d in days:
        as_of = datetime(d.year, d.month, d.day, tzinfo=UTC) + _DAY
        window = world.paths.filter((pl.col("ts") >= as_of - _DAY) & (pl.col("ts") < as_of))
        # volume of the day from the cumulative path (Gamma's volume24hr is the crawl time's)
        traded = window.group_by("market_id").agg(
            (pl.col("volume_usd").max() - pl.col("volume_usd").min()).alias("volume_24h")
        )
        day = universe[d].drop("volume_24h").join(traded, on="market_id")
        earlier = forecasts.filter((pl.col("cohort") < d) & (pl.col("cohort") >= d - timedelta(days=90)))
        scored = trust_scores(day, window, clarity, segment_records(earlier), as_of, config)
        out.append(scored.with_columns(pl.lit(d).alias("dt")))
    return pl.concat(out)


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUC: P(score of a positive > score of a negative), ties counting half."""
    ranks = pl.Series(score).rank("average").to_numpy()
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def manipulation_auc(
    world: WorldInputs, scores: pl.DataFrame, n_boot: int = 500, seed: int = 0
) -> tuple[Interval, int, int]:
    """AUC of (100 - trust) for "the market has a pump-and-revert or wash episode overlapping that day",
    with a market-clustered bootstrap interval; also the positive and negative counts."""
    episodes = world.episodes.filter(pl.col("kind").is_in(MANIPULATION_KINDS))
    days = scores.select("market_id", "dt").with_columns(
        pl.col("dt").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("day_start")
    )
    hit = (
        days.join(episodes, on="market_id")
        .filter((pl.col("start_ts") < pl.col("day_start") + _DAY) & (pl.col("end_ts") > pl.col("day_start")))
        .select("market_id", "dt")
        .unique()
        .with_columns(pl.lit(True).alias("positive"))
    )
    labelled = scores.join(hit, on=["market_id", "dt"], how="left").with_columns(pl.col("positive").fill_null(False))
    suspicion = 100.0 - labelled["trust_score"].to_numpy()
    positive = labelled["positive"].to_numpy()
    value = auc(suspicion, positive)
    codes = labelled["market_id"].rank("dense").to_numpy().astype(np.int64) - 1
    rng = np.random.default_rng(seed)
    markets = codes.max() + 1
    reps = []
    for _ in range(n_boot):
        counts = np.bincount(rng.integers(0, markets, markets), minlength=markets)
        weight = counts[codes]
        idx = np.repeat(np.arange(len(codes)), weight)
        if positive[idx].any() and (~positive[idx]).any():
            reps.append(auc(suspicion[idx], positive[idx]))
    low, high = np.percentile(reps, [2.5, 97.5])
    return Interval(value, float(low), float(high)), int(positive.sum()), int((~positive).sum())


def clarity_precision_recall(world: WorldInputs) -> tuple[Interval, Interval]:
    """Precision and recall (Wilson intervals) of "clarity < AMBIGUOUS_BELOW" for the truth's ambiguous flag."""
    clarity = rule_clarity(world.texts).join(world.truth.select("market_id", "clear"), on="market_id")
    flagged = clarity["clarity"].fill_null(0.0).to_numpy() < AMBIGUOUS_BELOW
    ambiguous = ~clarity["clear"].to_numpy()
    true_pos = int((flagged & ambiguous).sum())
    precision = true_pos / max(int(flagged.sum()), 1)
    recall = true_pos / max(int(ambiguous.sum()), 1)
    return (
        Interval(precision, *wilson_interval(true_pos, int(flagged.sum()))),
        Interval(recall, *wilson_interval(true_pos, int(ambiguous.sum()))),
    )


def brier_by_quintile(world: WorldInputs, scores: pl.DataFrame) -> list[tuple[int, Interval]]:
    """Brier at 1d of resolved markets, by quintile (1 = lowest) of their trust on the day before resolution,
    with a market bootstrap interval; each item is (n, Brier [low, high])."""
    before = _forecasts_1d(world).with_columns((pl.col("cohort") - _DAY).alias("dt"))
    joined = before.join(scores.select("market_id", "dt", "trust_score"), on=["market_id", "dt"])
    joined = joined.with_columns(
        (pl.col("trust_score").rank("ordinal") * 5 / (pl.len() + 1)).floor().cast(pl.Int64).clip(0, 4).alias("q")
    )
    out = []
    for q in range(5):
        part = joined.filter(pl.col("q") == q)
        p, y = part["p_yes"].to_numpy(), part["y"].to_numpy().astype(float)
        value = float(np.mean((p - y) ** 2))
        low, high = brier_bootstrap_ci(p, y, part["market_id"].to_numpy(), n_boot=500)
        out.append((part.height, Interval(value, low, high)))
    return out
