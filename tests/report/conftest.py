"""A headless Chromium for the report's browser test: Debian's package, installed when missing and apt can."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _find() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _install() -> str:
    """apt-get install chromium (as root, where apt exists); the reason it could not, else ''."""
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    if os.geteuid() != 0:
        return "not root, so apt-get cannot install it (run: sudo apt-get install -y chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-200:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of a headless-capable Chromium; skips (saying why) only if none exists and none can be installed."""
    path = _find()
    if path is None:
        reason = _install()
        path = _find()
        if path is None:
            pytest.skip(f"no Chromium for the browser test of the HTML report: {reason or 'install gave none'}")
    return path
