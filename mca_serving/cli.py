"""``mca serve --host H --port P``: the HTTP service in one uvicorn worker (the guards' state is per process), with
the read deadlines and connection limit of `mca_serving.server`."""

from __future__ import annotations

import argparse
import sys

from mca_core.model_registry import LicenseError
from mca_resources.settings import get_settings
from mca_serving.auth import TokenFileError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mca serve", description="run the HTTP service and the forecaster")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    import uvicorn

    from mca_serving.app import create_app
    from mca_serving.server import server_config

    settings = get_settings()
    try:
        app = create_app(settings)
    except (TokenFileError, LicenseError, ValueError) as exc:
        print(f"mca serve: refusing to start: {exc}", file=sys.stderr)
        return 2
    uvicorn.Server(server_config(app, settings, args.host, args.port, args.log_level)).run()
    return 0
