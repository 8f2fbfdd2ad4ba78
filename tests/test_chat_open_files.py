"""utils.raise_open_file_limit() on the systems these tests cannot run on.

Linux gives a finite hard limit, which the chapters' own runs exercise (chapter
18 starts a server under `ulimit -Sn 128`). macOS reports an unlimited hard
limit, then refuses a soft limit above its own caps; a stand-in for the
`resource` module that behaves like that checks the fallback here.
"""

import pytest
from test_chat_doctests import import_chat_module

INFINITY = -1  # what resource.RLIM_INFINITY is on both systems


class LikeMacOS:
    """getrlimit/setrlimit as on macOS: soft 256, hard "unlimited", capped lower."""

    RLIMIT_NOFILE = 8
    RLIM_INFINITY = INFINITY

    def __init__(self, cap):
        self.cap = cap  # the highest soft limit the system accepts
        self.soft = 256

    def getrlimit(self, which):
        return self.soft, INFINITY

    def setrlimit(self, which, limits):
        soft, _hard = limits
        if soft > self.cap:
            raise ValueError("current limit exceeds maximum limit")
        self.soft = soft


@pytest.mark.parametrize(
    ("cap", "expected"), [(100_000, 65536), (24_576, 10240), (1_000, 256)]
)
def test_an_unlimited_hard_limit_falls_back_to_what_the_system_accepts(
    monkeypatch, cap, expected
):
    utils = import_chat_module("utils", monkeypatch)
    system = LikeMacOS(cap)
    monkeypatch.setattr(utils, "resource", system)
    assert utils.raise_open_file_limit() == expected
    assert system.soft == expected  # in force, not only reported
