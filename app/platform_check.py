"""Before Qt starts: are the system libraries of Qt's X11 (xcb) platform plugin there? (GUI-free)

Without them Qt aborts the process with a message that names the wrong library; this check
names the missing Debian/Ubuntu packages in one line instead.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# Libraries PySide6's libqxcb.so loads that a minimal desktop may lack -> Debian/Ubuntu package.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def uses_xcb(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """True when Qt will pick its X11 (xcb) plugin: Linux, no Wayland session, and no other
    plugin asked for with QT_QPA_PLATFORM."""
    requested = environ.get("QT_QPA_PLATFORM", "")
    if not platform.startswith("linux"):
        return False
    if requested:
        return requested.startswith("xcb")
    return not environ.get("WAYLAND_DISPLAY")


def missing_xcb_packages(
    environ: Mapping[str, str] = os.environ, loads: Callable[[str], bool] = _loads
) -> list[str]:
    """The packages to install before Qt's xcb plugin can load (empty when none are missing or
    another platform plugin will be used)."""
    if not uses_xcb(environ):
        return []
    return [package for soname, package in XCB_LIBRARIES.items() if not loads(soname)]


def missing_packages_message(packages: list[str]) -> str:
    """One line for the terminal naming the packages and the command that installs them."""
    return (
        "isegsat: error: Qt's X11 platform plugin cannot load: system libraries are missing. "
        f"Install them with: sudo apt install {' '.join(packages)}"
    )
