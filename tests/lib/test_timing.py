"""genuine.lib.timing: one log line per finished part, none for a part that raised."""

from __future__ import annotations

import logging
import re

import pytest

from genuine.lib.timing import recording, timed

LOG = logging.getLogger("tests.timing")


def test_a_finished_part_logs_its_name_and_seconds(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOG.name), timed(LOG, "features: content state"):
        pass
    messages = [r.getMessage() for r in caplog.records if r.name == LOG.name]
    assert len(messages) == 1
    match = re.fullmatch(r"features: content state: (\d+\.\d) s", messages[0])
    assert match is not None and float(match.group(1)) < 60.0


def test_a_part_that_raises_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOG.name), pytest.raises(ValueError), timed(LOG, "broken"):
        raise ValueError("boom")
    assert [r for r in caplog.records if r.name == LOG.name] == []


def test_recording_collects_the_parts_that_end_inside_it_whatever_the_log_level() -> None:
    LOG.setLevel(logging.WARNING)
    with timed(LOG, "before"):
        pass
    with recording() as outer:
        with timed(LOG, "features: family behaviour"):
            pass
        with recording() as inner, timed(LOG, "features: family network"):
            pass
        with pytest.raises(ValueError), timed(LOG, "failed"):
            raise ValueError("boom")
    with timed(LOG, "after"):
        pass
    assert [p for p, _ in outer] == ["features: family behaviour", "features: family network"]
    assert [p for p, _ in inner] == ["features: family network"]
    assert all(0.0 <= s < 60.0 for _, s in outer)
