"""The README's "Running it for real" sequence, run verbatim in a scratch folder (issue 13).

Only two things differ from a real machine: ``/etc/tracker`` and ``/var/lib/tracker`` are
folders in the scratch folder, and the README's "edit it now" step points the carriers of the
example orders at the sandbox carrier on loopback (each ``[carriers.NAME]`` table with
``adapter = "sandbox"``), so nothing leaves the machine. The daemon then polls real HTTP.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carriers.sandbox.service import SandboxService

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def readme_sequence() -> str:
    """The first shell block under "## Running it for real", as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Running it for real", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None, "README: no sh block under 'Running it for real'"
    return match.group(1)


def seller_edit(config: Path, scratch: Path, sandbox_url: str) -> None:
    """What the README asks the seller to do after copying the file: state in the (scratch)
    state folder, and a table for each carrier the example orders use."""
    text = config.read_text(encoding="utf-8").replace(
        "/var/lib/tracker", f"{scratch}/var/lib/tracker"
    )
    text = text.replace('base_url = "http://127.0.0.1:8765"', f'base_url = "{sandbox_url}"')
    for carrier in ("correios", "russian_post", "ups"):
        text += f'\n[carriers.{carrier}]\nadapter = "sandbox"\nbase_url = "{sandbox_url}"\n'
    config.write_text(text.replace('poll_every = "5m"', 'poll_every = "1s"'), encoding="utf-8")


def prepare(scratch: Path) -> str:
    """The scratch folder (the repository's config/ and .venv/), and the README's sequence with
    its two system folders moved into it and the edit step done by ``seller_edit``."""
    shutil.copytree(ROOT / "config", scratch / "config")
    (scratch / ".venv").symlink_to(VENV_BIN.parent)
    lines = readme_sequence().replace("/etc/tracker", f"{scratch}/etc/tracker")
    lines = lines.replace("/var/lib/tracker", f"{scratch}/var/lib/tracker")
    edit_step = "# edit it now:"
    assert edit_step in lines, "README: the 'edit it now' step moved; update this test"
    config = scratch / "etc" / "tracker" / "tracker.toml"
    (scratch / "edit.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from pathlib import Path\n"
        "from tests.cli.test_readme_for_real import seller_edit\n"
        f"seller_edit(Path({str(config)!r}), Path({str(scratch)!r}), sys.argv[1])\n",
        encoding="utf-8",
    )
    script = lines.replace(edit_step, f'{sys.executable} edit.py "$SANDBOX_URL" #')
    return "set -euo pipefail\n" + script + STOP_THE_DAEMON


#: after the sequence: wait (at most 60 s) until the daemon's heartbeat makes ``status`` healthy,
#: so the SIGTERM finds it running, then stop it as the README says and report how it exited
STOP_THE_DAEMON = (
    "for _ in $(seq 200); do .venv/bin/tracker status >/dev/null 2>&1 && break; sleep 0.3; done\n"
    "kill %1\nwait %1 && echo daemon-exit=0 || echo daemon-exit=$?\n"
)


def check_outcome(scratch: Path, code: int | None, out: str, err: str) -> None:
    assert code == 0, f"stdout:\n{out}\nstderr:\n{err}"
    store = scratch / "var" / "lib" / "tracker" / "tracker.sqlite3"
    config = scratch / "etc" / "tracker" / "tracker.toml"
    assert f"{config}: OK" in out
    assert f"store: {store} (config {config})" in err
    assert "added shipment 1: RB473124829BR via correios" in out
    assert "imported 3 shipment(s), rejected 0 row(s)" in out
    assert "RB473124829BR via correios" in out.split("imported 3 shipment(s)", 1)[1]  # show
    assert out.rstrip().endswith("daemon-exit=0")
    assert store.is_file()
    assert not (scratch / "etc" / "var").exists()  # the old split: a store beside /etc


@pytest.mark.integration
@pytest.mark.slow
async def test_the_running_it_for_real_sequence_works_as_written(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    script = prepare(scratch)
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_CONFIG"}
    async with SandboxService(clock=lambda: datetime.now(UTC), auto_register=True) as sandbox:
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            script,
            cwd=scratch,
            env={**env, "SANDBOX_URL": sandbox.base_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    check_outcome(scratch, process.returncode, out.decode(), err.decode())
