"""``tracker import`` of a large CSV file: the code at a baseline revision against the current
code, side by side in one run, each in its own process with a fresh SQLite store.

Run: ``.venv/bin/python bench/csv_import.py [--rows 200000] [--baseline REV]``. The baseline
(default: the last commit before the import streamed its input) is unpacked with ``git archive``
into a temporary folder and put first on ``sys.path``; the current code is this checkout. Both
import the same generated file (sandbox numbers, valid rows, one in a thousand bad). Reported
per side: wall time, the import process's peak RSS (``wait4``), shipments stored, rows
rejected; then the ratios current / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: main just before ``tracker import`` streamed its input (issue 13, item 10)
BASELINE = "eea9cdb"
PACKAGES = ("tracker", "carriers", "notices", "shops")
HEADER = (
    "tracking_number,carrier,buyer_email,buyer_name,buyer_language,"
    "destination_country,order_reference,shipped_date\n"
)
RUN = """
import sys
sys.path.insert(0, sys.argv[1])
sys.argv = ["tracker", *sys.argv[2:]]
from tracker.cli import main
main()
"""


def write_orders(path: Path, rows: int) -> None:
    """``rows`` orders for the sandbox carrier; every 1000th has an invalid email."""
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for n in range(rows):
            email = "not-an-email" if n % 1000 == 999 else f"buyer{n}@buyers.example"
            out.write(
                f"SBNM{n:08d},sandbox,{email},Buyer {n},pt,BR,ORD-{n},2026-11-{n % 28 + 1:02d}\n"
            )


def unpack(revision: str, into: Path) -> Path:
    """The packages as they were at ``revision``, unpacked under ``into``."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", revision],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    present = [name for name in PACKAGES if name in listed]
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, *present],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def measure(code: Path, csv_file: Path, workdir: Path) -> dict[str, object]:
    """One ``tracker import`` in its own process: wall time and peak RSS."""
    workdir.mkdir()
    config = workdir / "tracker.toml"
    config.write_text('[store]\nurl = "sqlite:///store.sqlite3"\n', encoding="utf-8")
    argv = [sys.executable, "-c", RUN, str(code), "import", str(csv_file), "--config", str(config)]
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    assert process.stdout is not None
    summary = process.stdout.read().strip().splitlines()
    process.stdout.close()
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": os.waitstatus_to_exitcode(status),
        "summary": summary[-1] if summary else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--baseline", default=BASELINE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-csv-") as scratch:
        base = Path(scratch)
        csv_file = base / "orders.csv"
        write_orders(csv_file, args.rows)
        size_mb = round(csv_file.stat().st_size / 1e6, 1)
        baseline = unpack(args.baseline, base / "baseline")
        results = {
            "baseline": measure(baseline, csv_file, base / "run-baseline"),
            "current": measure(ROOT, csv_file, base / "run-current"),
        }
    old, new = results["baseline"], results["current"]
    report = {
        "rows": args.rows,
        "csv_mb": size_mb,
        **results,
        "time_ratio": round(float(str(new["seconds"])) / float(str(old["seconds"])), 3),
        "rss_ratio": round(float(str(new["peak_rss_mb"])) / float(str(old["peak_rss_mb"])), 3),
    }
    print(json.dumps(report))
    print(
        f"{args.rows:,} rows: baseline {old['seconds']} s, {old['peak_rss_mb']} MB; "
        f"current {new['seconds']} s, {new['peak_rss_mb']} MB; "
        f"time x{report['time_ratio']}, peak RSS x{report['rss_ratio']}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
