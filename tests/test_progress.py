"""shortcutlab.progress: plain lines at a steady interval off a terminal, quiet, stderr."""

from __future__ import annotations

import pytest

from shortcutlab import progress

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def default_settings():
    progress.configure()
    yield
    progress.configure()


def test_plain_lines_at_the_interval_and_always_the_last(monkeypatch, capsys) -> None:
    monkeypatch.setenv(progress.EVERY_ENV, "3600")  # only the first and the last line
    with progress.Reporter("score", 10, "records") as bar:
        for done in range(1, 11):
            bar.update(done)
    lines = capsys.readouterr().out.splitlines()
    assert [x.split(",")[0] for x in lines] == [
        "[score] records 1/10 (10%)",
        "[score] records 10/10 (100%)",
    ]
    assert "records/s" in lines[0] and "ETA " in lines[0] and "elapsed " in lines[0]


def test_resumed_stage_counts_only_this_runs_work(monkeypatch) -> None:
    bar = progress.Reporter("train standard", 100, "steps", initial=40)
    line = bar.line(50, bar.start + 10.0, note="loss 0.5000")
    assert line == (
        "[train standard] steps 50/100 (50%), 1.00 steps/s, ETA 50s, elapsed 10s, loss 0.5000"
    )


def test_json_mode_goes_to_stderr_and_quiet_prints_nothing(monkeypatch, capsys) -> None:
    monkeypatch.setenv(progress.EVERY_ENV, "0")
    progress.configure(to_stderr=True)
    progress.Reporter("train standard", 2).update(1)
    progress.say("stage done")
    out = capsys.readouterr()
    assert out.out == "" and "[train standard] steps 1/2" in out.err and "stage done" in out.err
    progress.configure(quiet=True)
    progress.Reporter("train standard", 2).update(2)
    progress.say("stage done")
    with progress.quieted(False):  # a library call cannot turn a quiet CLI loud
        progress.say("still quiet")
    assert capsys.readouterr() == ("", "")


def test_quieted_block_for_library_progress_false(capsys) -> None:
    with progress.quieted():
        progress.Reporter("x", 1).update(1)
        progress.say("hidden")
    progress.say("shown")
    assert capsys.readouterr().out == "shown\n"


def test_durations() -> None:
    assert [progress.duration(s) for s in (5, 381, 7500)] == ["5s", "6m21s", "2h05m"]
