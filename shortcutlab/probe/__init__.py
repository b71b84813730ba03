"""`shortcutlab probe`: what does a reward model respond to? Counterfactual tests of any RM.

- `make_battery`: a data file -> variant files (image swap / blank / drop, text edits),
  ordinary data files every command and any external pipeline can read;
- `run_probe`: make + score with the existing engine + report, in one call;
- `write_report`: score tables of a battery (ours or a third party's) -> the shortcut
  card (card.json, card.md, probe.csv, a figure).

docs/probe.md explains each test and how to read its numbers.
"""

from shortcutlab.probe.battery import Battery, make_battery, read_battery
from shortcutlab.probe.edits import BUILTIN_EDITS, IMAGE_TESTS, Edit, load_edits
from shortcutlab.probe.make import MakeOptions
from shortcutlab.probe.report import ReportOptions, read_tables, write_report
from shortcutlab.probe.run import run_probe
from shortcutlab.probe.scoring import ScoreOptions

__all__ = [
    "BUILTIN_EDITS",
    "IMAGE_TESTS",
    "Battery",
    "Edit",
    "MakeOptions",
    "ReportOptions",
    "ScoreOptions",
    "load_edits",
    "make_battery",
    "read_battery",
    "read_tables",
    "run_probe",
    "write_report",
]
