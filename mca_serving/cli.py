"""``mca serve --host H --port P``: the HTTP service in one uvicorn worker (the guards' state is per process)."""

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

    try:
        app = create_app(get_settings())
    except (TokenFileError, LicenseError, ValueError) as exc:
        print(f"mca serve: refusing to start: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0
