"""The pre-Qt check of the xcb plugin's system libraries names the missing packages."""

from __future__ import annotations

import pytest

from isegsat.app import main as app_main
from isegsat.app.platform_check import XCB_LIBRARIES, missing_xcb_packages, uses_xcb


def test_missing_libraries_are_named_by_their_packages():
    absent = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    missing = missing_xcb_packages({"DISPLAY": ":0"}, lambda soname: soname not in absent)
    assert missing == ["libxcb-icccm4", "libxcb-keysyms1"]
    assert missing_xcb_packages({"DISPLAY": ":0"}, lambda soname: True) == []
    assert set(XCB_LIBRARIES) >= absent


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({"DISPLAY": ":0"}, "linux", True),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({}, "darwin", False),
    ],
)
def test_only_the_xcb_platform_is_checked(environ, platform, expected):
    assert uses_xcb(environ, platform) is expected


def test_the_app_stops_with_one_line_instead_of_qts_abort(capsys, monkeypatch):
    monkeypatch.setattr(app_main, "missing_xcb_packages", lambda: ["libxcb-icccm4"])
    assert app_main.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sudo apt install libxcb-icccm4" in err
