"""Test-side runner (no tests): score a file through the library, sleeping after each batch.

The SIGKILL + resume test (tests/test_scoring_cli.py) needs a run slow enough to be killed
between batches. Production code has no test-only sleep: this script passes the library's
`progress` hook, which `score` calls only once a batch is committed to the journal,
and sleeps there. The options are the `shortcutlab score` defaults, so the journal's
fingerprint matches the CLI command that resumes the run.

    python tests/scoring_runner.py MODEL DATA OUTPUT BATCH_SIZE MAX_LENGTH DELAY_SECONDS
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from shortcutlab.scoring import score


def main(argv: list[str]) -> None:
    model, data, output, batch_size, max_length, delay = argv
    score(
        model,
        Path(data),
        Path(output),
        batch_size=int(batch_size),
        max_length=int(max_length),
        progress=lambda done, total: time.sleep(float(delay)),
        command=["tests/scoring_runner.py", *argv],
    )


if __name__ == "__main__":
    main(sys.argv[1:])
