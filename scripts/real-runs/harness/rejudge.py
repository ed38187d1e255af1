"""Sets the `xfail` marks of the real-run corpus cases from what rotdiag reports now, without running
anything else (no servers, no root): run it after a change to the rules, then commit the marks it
removed (the corpus test fails on a case that is marked but passes).

    python3 scripts/real-runs/harness/rejudge.py [--rotdiag PATH]   (default: cargo build, target/debug/rotdiag)
"""

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import real_cases, rejudge  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rotdiag")
    a = ap.parse_args()
    rotdiag = str(Path(a.rotdiag).resolve()) if a.rotdiag else None
    if not rotdiag:
        subprocess.run(["cargo", "build", "-q"], cwd=REPO, check=True)
        rotdiag = str(REPO / "target" / "debug" / "rotdiag")
    cases = real_cases(REPO / "corpus")
    for case in cases:
        rejudge(rotdiag, case)
    marked = sum("\nxfail = " in (c / "expect.toml").read_text() for c in cases)
    print(f"{len(cases)} real-run cases, {marked} marked xfail")
    return 0


if __name__ == "__main__":
    sys.exit(main())
