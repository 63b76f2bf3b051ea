"""The ``mca`` command: one console script whose subcommands dispatch into the package that owns them.

Subcommands are named by module path and imported only when chosen, so ``mca sandbox`` never loads dagster and
``mca serve`` never loads the sandbox; this dispatcher holds no import of the packages it names.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module

#: subcommand -> (module, function, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "sandbox": ("mca_sandbox.cli", "main", "run the local Polymarket-compatible venue"),
    "fetch": ("mca_resources.fetch", "main", "print normalised records from one connector as JSON lines"),
    "demo": ("mca_assets.demo", "main", "start the demo (what `make demo` runs)"),
    "serve": ("mca_serving.cli", "main", "run the HTTP service and the guarded forecaster"),
}


def _usage() -> str:
    lines = ["usage: mca <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, _, help_) in SUBCOMMANDS.items()]
    lines += ["", "run 'mca <command> --help' for the options of a command"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"mca: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module, func, _ = SUBCOMMANDS[name]
    entry: Callable[[list[str]], int] = getattr(import_module(module), func)
    return entry(rest)


if __name__ == "__main__":
    raise SystemExit(main())
