"""A daemon process for the crash tests: the real ``Daemon`` in simulated time, killable.

The simulated "now" lives in a file, rewritten (atomically) after every step, so a process that
is killed and restarted continues where time was. A restart resumes ``--restart-gap`` after the
persisted time, the way real time passes while a service restarts; that gap is longer than the
configured lease, so work leased by the killed process becomes claimable again.

    python -m tests.reliability.driver --config C --clock-file F --end ISO --step-seconds N

With ``--serve`` it is a launcher instead: it imports everything once, then forks one daemon
process per ``run`` line on stdin and reports ``pid N`` and ``exit N CODE`` on stdout, so a
test can restart (and SIGKILL) real processes dozens of times without paying start-up each time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.eventlog import configure_logging
from tracker.runtime.app import build_app
from tracker.runtime.daemon import Daemon


def read_clock(path: Path) -> datetime:
    """The persisted simulated time."""
    return datetime.fromisoformat(path.read_text().strip())


def write_clock(path: Path, now: datetime) -> None:
    """Persist the simulated time atomically, so a kill never leaves a torn file."""
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    scratch.write_text(now.isoformat())
    os.replace(scratch, path)


async def run(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    configure_logging("json", "warning", stream=sys.stderr)
    clock_file: Path = args.clock_file
    clock = SimulatedClock(read_clock(clock_file) + timedelta(seconds=args.restart_gap))
    write_clock(clock_file, clock.now())
    end = datetime.fromisoformat(args.end)
    step = timedelta(seconds=args.step_seconds)
    app = build_app(config, clock)
    try:
        daemon = Daemon(app)
        print("ready", flush=True)
        while clock.now() < end:
            await daemon.step()
            write_clock(clock_file, clock.advance(step))
        await daemon.step()
    finally:
        await app.close()
    print("finished", flush=True)


def serve(args: argparse.Namespace) -> None:
    """The fork launcher (see the module docstring); the log goes to ``--log``."""
    for line in sys.stdin:
        if line.strip() != "run":
            continue
        pid = os.fork()
        if pid == 0:  # the daemon process
            code = 1
            try:
                with open(args.log, "ab", buffering=0) as log:
                    os.dup2(log.fileno(), 2)
                sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
                asyncio.run(run(args))
                code = 0
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                os._exit(code)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {pid} {os.waitstatus_to_exitcode(status)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.driver")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--clock-file", type=Path, required=True)
    parser.add_argument("--end", required=True, help="simulated ISO time to stop at")
    parser.add_argument("--step-seconds", type=float, default=3600)
    parser.add_argument("--restart-gap", type=float, default=0, help="seconds added on start")
    parser.add_argument("--serve", action="store_true", help="fork a daemon per 'run' line")
    parser.add_argument("--log", type=Path, default=Path("daemon.log"))
    args = parser.parse_args()
    if args.serve:
        serve(args)
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
