"""The unit files: the directives issue 7 asks for are there, and systemd rates the hardening."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
UNITS = ["tracker.service", "tracker@.service"]


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value (systemd allows repeated keys), comments dropped."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not KEY=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.mark.parametrize("name", UNITS)
def test_service_is_notify_type_with_watchdog_reload_and_restart(name: str) -> None:
    service = parse_unit(SYSTEMD / name)["Service"]
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert service["Restart"] == ["on-failure"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    watchdog = service["WatchdogSec"][0]
    assert re.fullmatch(r"\d+s", watchdog)
    assert int(watchdog[:-1]) >= 10
    # Longer than the default shutdown grace (30s) so SIGTERM can drain in-flight work.
    assert int(service["TimeoutStopSec"][0].removesuffix("s")) > 30
    assert " run --config " in service["ExecStart"][0]


@pytest.mark.parametrize("name", UNITS)
def test_state_and_secrets_live_where_the_service_may_write_and_read(name: str) -> None:
    service = parse_unit(SYSTEMD / name)["Service"]
    state = service["StateDirectory"][0]
    assert state.startswith("tracker")
    assert service["WorkingDirectory"] == [f"/var/lib/{state}"]
    assert service["EnvironmentFile"][0].lstrip("-").startswith("/etc/tracker/")
    assert service["User"] == ["tracker"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }.items():
        assert service[key] == [value], key
    assert set(service["RestrictAddressFamilies"][0].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}


def test_template_keeps_instances_apart() -> None:
    service = parse_unit(SYSTEMD / "tracker@.service")["Service"]
    assert "/etc/tracker/%i.toml" in service["ExecStart"][0]
    assert service["StateDirectory"] == ["tracker/%i"]
    assert service["EnvironmentFile"] == ["-/etc/tracker/%i.env"]


def test_env_example_only_assigns_variables() -> None:
    lines = (SYSTEMD / "tracker.env.example").read_text("utf-8").splitlines()
    assignments = [line for line in lines if line and not line.startswith("#")]
    assert assignments
    for line in assignments:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*=\S*", line), line


@pytest.mark.integration
@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_rates_exposure_at_most_2(name: str, tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    # The template is analysed as one concrete instance.
    unit = tmp_path / name.replace("@.", "@shop1.")
    unit.write_text((SYSTEMD / name).read_text("utf-8"), "utf-8")
    done = subprocess.run(
        [tool, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    if found is None:
        pytest.skip(f"systemd-analyze could not rate the unit here: {done.stderr.strip()[:300]}")
    assert float(found.group(1)) <= 2.0, done.stdout
