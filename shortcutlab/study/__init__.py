"""The apps wing: studies and the demo, built on the library (which never imports them).

- `spec`: what a study is (`Study`, `StudyEnv`, `load_study`);
- `cache`: done-markers and fingerprints, so a rerun redoes only what changed;
- `run`: the runner (`run_study` -> `StudyResult`): train, score, diagnose;
- `results`: the study's diagnostics from its score tables (`results/`);
- `demo`, `demo_markdown`: the one-command demo and its `report.md`.

    from shortcutlab.study import run_study
    result = run_study("study.yaml", "out/study")
"""

from shortcutlab.study.run import StudyResult, run_study
from shortcutlab.study.spec import Study, StudyEnv, load_study

__all__ = ["Study", "StudyEnv", "StudyResult", "load_study", "run_study"]
