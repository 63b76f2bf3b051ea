"""A chart-rendering worker process: pickled `PathChart` list on stdin, their SVG texts (pickled list) on stdout.

Started by `mca_core.postmortem_chart.render_svgs` as ``python -m mca_core.postmortem_chart_worker``, so a worker
imports only the chart module, whatever program (Dagster, a benchmark) asked for the charts.
"""

import pickle
import sys

from mca_core.postmortem_chart import PathChartRenderer


def main() -> None:
    charts = pickle.load(sys.stdin.buffer)
    renderer = PathChartRenderer()
    pickle.dump([renderer.svg(chart) for chart in charts], sys.stdout.buffer)


if __name__ == "__main__":
    main()
