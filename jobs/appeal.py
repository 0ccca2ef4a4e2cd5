"""Import appeal outcomes (spark-submit jobs/appeal.py FILE): uphold / restore, through the same path as
moderator decisions (jobs/review.py)."""

from __future__ import annotations

import sys

from genuine.jobs.review import main as _review_main


def main(argv: list[str] | None = None) -> int:
    return _review_main(argv, kind="appeal")


if __name__ == "__main__":
    sys.exit(main())
