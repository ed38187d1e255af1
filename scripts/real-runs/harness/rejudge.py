"""Sets the `xfail` marks of the real-run corpus cases from what rotdiag reports now, without running
anything else (no servers, no root): run it after a change to the rules, then commit the marks it
removed (the corpus test fails on a case that is marked but passes).

With --relabel it first brings every case in line with the scenarios as they are now (a changed
true cause or expectation in scenarios.py), as a rerun would, keeping the logs: the folder is
renamed after the scenario's cause and the head of the expectation rewritten.

    python3 scripts/real-runs/harness/rejudge.py [--relabel] [--rotdiag PATH]   (default: cargo build, target/debug/rotdiag)
"""

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import real_cases, rejudge, relabel  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rotdiag")
    ap.add_argument("--relabel", action="store_true")
    a = ap.parse_args()
    rotdiag = str(Path(a.rotdiag).resolve()) if a.rotdiag else None
    if not rotdiag:
        subprocess.run(["cargo", "build", "-q"], cwd=REPO, check=True)
        rotdiag = str(REPO / "target" / "debug" / "rotdiag")
    cases = real_cases(REPO / "corpus")
    if a.relabel:
        cases = sorted(relabel(REPO / "corpus", c) for c in cases)
    for case in cases:
        rejudge(rotdiag, case)
    marked = sum("\nxfail = " in (c / "expect.toml").read_text() for c in cases)
    print(f"{len(cases)} real-run cases, {marked} marked xfail")
    return 0


if __name__ == "__main__":
    sys.exit(main())
