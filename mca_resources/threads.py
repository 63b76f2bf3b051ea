"""How many threads the numerical libraries of a process may use.

OpenBLAS starts one thread per core. A Dagster run shares the machine with the daemon, the webserver, captures
and other runs, so its BLAS threads contend with them: the scoreboard ran 2x slower when another process held a
core (16.0 s with two BLAS threads against 7.1 s with one). The code location caps them at ``MCA_BLAS_THREADS``
(default 1) when it loads, in every process that loads it (run workers included).
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def limit_blas_threads(threads: int) -> None:
    """Cap the BLAS thread pools of this process at ``threads`` (>= 1), for the rest of its life."""
    if threads < 1:
        raise ValueError(f"MCA_BLAS_THREADS must be >= 1, got {threads}")
    threadpool_limits(limits=threads, user_api="blas")
