"""``reports.postmortems``: a markdown postmortem with a path chart for each selected market of the day's cohort.

The cohort of ``dt`` is the markets that resolved on ``dt``; who gets a report and what it says is
`mca_core.postmortem`. Files go to ``<MCA_DATA_DIR>/reports/postmortem/<market_id>_<dt>.md`` (and ``.svg``),
written atomically, replacing the day's files; the table row holds the same markdown. Trust and alerts are
dependencies: ``trust.trust_scores`` (history, clarity, the stage's weakest component) and ``alerts.alerts`` are
read, and the catch thresholds are the alert config in force. A warehouse without their tables still gets reports
that say what is missing.
"""

import base64
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.alerts.assets import ALERTS_KEY
from mca_assets.calibration.assets import SCOREBOARD_KEY
from mca_assets.calibration.intervals import BANDS_KEY
from mca_assets.common import daily_asset, every_day, partition_dates, warehouse_connection, write_days
from mca_assets.cutoff.assets import CUTOFFS_KEY
from mca_assets.features.assets import FEATURES_KEY
from mca_assets.postmortem.files import publish_day
from mca_assets.trust.assets import TRUST_KEY
from mca_core.postmortem import DayInputs, PostmortemConfig, Report, build_reports, select_markets
from mca_core.postmortem_catch import CatchThresholds
from mca_core.postmortem_chart import render_svgs
from mca_core.postmortem_sections import cell
from mca_resources.dagster_resources import MethodsResource
from mca_resources.dagster_storage import StorageResource
from mca_resources.settings import get_settings
from mca_resources.warehouse import read_frame

POSTMORTEMS_KEY = dg.AssetKey(["reports", "postmortems"])
ONE_REPORT_PER_SELECTED = "one_report_per_selected_market"
REPORT_SUBDIR = Path("reports") / "postmortem"
#: days of history before the cohort day read for snapshots and features (the fetched price history spans 32)
CONTEXT_DAYS = 32
POSTMORTEM_COLUMNS = ("dt", "market_id", "path", "markdown", "image_path", "reason", "abs_error")


def config_of(methods: MethodsResource) -> PostmortemConfig:
    """Selection from the methods resource; the catch thresholds are the rule alerts' (``MCA_ALERT_RULES``)."""
    return PostmortemConfig(
        wrong_threshold=methods.postmortem_wrong_threshold,
        max_others=methods.postmortem_max_others,
        catch=CatchThresholds.of(get_settings().alert_config()),
    )


def _exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    sql = "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"
    return bool(conn.execute(sql, [schema, name]).fetchall()[0][0])


def read_day(conn: duckdb.DuckDBPyConnection, dt: date) -> DayInputs:
    """Everything a day's reports read; tables of stages not in this warehouse (trust, alerts) come back None."""
    resolutions = read_frame(conn, "SELECT * FROM core.resolutions WHERE dt = ? ORDER BY market_id", [dt])
    conn.register("_cohort", resolutions.select("market_id", "event_id"))
    try:
        window = {"dt": dt, "start": dt - timedelta(days=CONTEXT_DAYS)}
        in_cohort = "market_id IN (SELECT market_id FROM _cohort)"

        def cohort_rows(sql: str, table: str) -> pl.DataFrame | None:
            return read_frame(conn, sql, {"dt": dt}) if _exists(conn, table) else None

        return DayInputs(
            dt=dt,
            resolutions=resolutions,
            cutoffs=read_frame(conn, "SELECT * FROM core.cutoff_snapshots WHERE dt = ?", [dt]),
            markets=read_frame(conn, "SELECT m.market_id, m.event_id, m.question, m.neg_risk, m.p_yes, l.label "
                               "FROM core.markets m LEFT JOIN (SELECT market_id, arg_max(label, dt) AS label "
                               "FROM core.resolutions GROUP BY market_id) l USING (market_id) WHERE m.dt = $dt AND "
                               "(m.market_id IN (SELECT market_id FROM _cohort) "
                               "OR m.event_id IN (SELECT event_id FROM _cohort))", {"dt": dt}),
            path=read_frame(conn, f"SELECT market_id, ts, p FROM core.price_history WHERE dt = $dt AND {in_cohort}",
                            {"dt": dt}),
            snapshots=read_frame(conn, "SELECT market_id, ts, volume_usd, open_interest_usd FROM core.market_snapshots "
                                 f"WHERE dt BETWEEN $start AND $dt AND {in_cohort} ORDER BY market_id, ts", window),
            features=read_frame(conn, "SELECT market_id, ts, volume_velocity, oi_change FROM core.features "
                                f"WHERE dt BETWEEN $start AND $dt AND {in_cohort} ORDER BY market_id, ts", window),
            scoreboard=read_frame(conn, "SELECT * FROM calib.scoreboard WHERE dt = ?", [dt]),
            bands=read_frame(conn, "SELECT market_id, ts, band_calibration, y, q10, q90 FROM calib.forecast_bands "
                             f"WHERE dt = $dt AND {in_cohort} ORDER BY market_id, ts", {"dt": dt}),
            trust=cohort_rows(f"SELECT * FROM trust.trust_scores WHERE dt <= $dt AND {in_cohort} "
                              "ORDER BY market_id, dt", "trust.trust_scores"),
            alerts=cohort_rows(f"SELECT * FROM alerts.alerts WHERE ts < ($dt + INTERVAL 1 DAY)::TIMESTAMPTZ "
                               f"AND {in_cohort} ORDER BY market_id, ts", "alerts.alerts"),
        )  # fmt: skip
    finally:
        conn.unregister("_cohort")


def _rows(dt: date, reports: list[Report], with_image: set[str]) -> pl.DataFrame:
    rows = [(dt, r.market_id, str(REPORT_SUBDIR / f"{r.stem}.md"), r.markdown,
             str(REPORT_SUBDIR / f"{r.stem}.svg") if r.stem in with_image else None, r.reason, r.abs_error)
            for r in reports]  # fmt: skip
    schema = {"dt": pl.Date, "market_id": pl.String, "path": pl.String, "markdown": pl.String,
              "image_path": pl.String, "reason": pl.String, "abs_error": pl.Float64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


def _inline(report: Report, svg: str | None) -> dg.MetadataValue:
    """The report's markdown for the UI, its chart embedded (the UI cannot follow a relative file link)."""
    text = report.markdown
    if svg is not None:
        encoded = base64.b64encode(svg.encode()).decode()
        text = text.replace(f"]({report.stem}.svg)", f"](data:image/svg+xml;base64,{encoded})")
    return dg.MetadataValue.md(text)


def _listing(report_dir: Path, reports: list[Report]) -> dg.MetadataValue:
    lines = ["| market | reason | abs error at 1d | report |", "|---|---|---|---|"]
    for r in reports:
        link = f"[{r.stem}.md]({(report_dir / f'{r.stem}.md').resolve().as_uri()})"
        lines.append(f"| {r.market_id} | {r.reason} | {cell(r.abs_error)} | {link} |")
    return dg.MetadataValue.md("\n".join(lines) if reports else "_no report: no resolved market on this day_")


@daily_asset(
    POSTMORTEMS_KEY,
    group="postmortem",
    description="Markdown postmortems (with a path chart) of the day's confidently wrong and largest resolved "
    "markets: what happened, what the platform saw, what would have caught it.",
    deps=[SCOREBOARD_KEY, CUTOFFS_KEY, FEATURES_KEY, BANDS_KEY, every_day(TRUST_KEY), every_day(ALERTS_KEY)],
    owners=["team:research"],
    check_specs=[dg.AssetCheckSpec(ONE_REPORT_PER_SELECTED, asset=POSTMORTEMS_KEY,
                                   description="every selected market of each day written has exactly one report "
                                   "file and row, and no other report remains")],
)  # fmt: skip
def postmortems(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, storage: StorageResource, methods: MethodsResource
) -> dg.MaterializeResult:
    config = config_of(methods)
    report_dir = Path(storage.data_dir) / REPORT_SUBDIR
    frames, by_day, removed, problems = {}, {}, {}, []
    for dt in partition_dates(context):
        with warehouse_connection(warehouse) as conn:
            inputs = read_day(conn, dt)
        reports = build_reports(inputs, config)
        charted = [r for r in reports if r.chart is not None]
        svgs = dict(zip([r.stem for r in charted], render_svgs([r.chart for r in charted if r.chart]), strict=True))
        files = {f"{stem}.svg": svg.encode() for stem, svg in svgs.items()}
        files |= {f"{r.stem}.md": r.markdown.encode() for r in reports}
        removed[dt.isoformat()] = publish_day(report_dir, dt, files)
        frames[dt] = _rows(dt, reports, set(svgs))
        by_day[dt] = (reports, svgs)
        expected = set(select_markets(inputs.resolutions, inputs.cutoffs, config)["market_id"])
        on_disk = {p.name for p in report_dir.glob(f"*_{dt.isoformat()}.md")}
        if {r.market_id for r in reports} != expected or on_disk != {f"{r.stem}.md" for r in reports}:
            problems.append(dt.isoformat())
    written = write_days(warehouse, "reports.postmortems", frames)
    last = max(by_day)
    reports, svgs = by_day[last]
    metadata: dict[str, object] = {
        "rows": sum(written.values()),
        "rows_per_day": dg.MetadataValue.json(written),
        "removed_reports": dg.MetadataValue.json(removed),
        "report_dir": dg.MetadataValue.path(str(report_dir.resolve())),
        "reports": _listing(report_dir, reports),
        "confidently_wrong": sum(r.reason == "confidently_wrong" for r in reports),
    }
    if reports:
        metadata["worst_miss"] = _inline(reports[0], svgs.get(reports[0].stem))
    check = dg.AssetCheckResult(check_name=ONE_REPORT_PER_SELECTED, passed=not problems,
                                metadata={"days_with_problems": dg.MetadataValue.json(problems)})  # fmt: skip
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
