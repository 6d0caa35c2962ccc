"""The full soak with faults (issue 13): 1,000 call attempts over 100 s on three nodes behind
HAProxy while nodes are killed every 20–30 s and Redis is restarted once.

It is the suite's ``tests/integration/cluster/test_soak_with_faults.py`` at full size (the
suite runs it short: 300 attempts over 30 s); the same checks, the counts printed as ``soak:``
lines. Run from the repository root::

    uv run python bench/soak.py                       # 1,000 attempts over 100 s (~3 min)
    uv run python bench/soak.py --attempts 3000 --seconds 300
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/integration/cluster/test_soak_with_faults.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=100.0, help="the attempts spread over")
    args = parser.parse_args()
    env = {
        **os.environ,
        "YUNTONG_SOAK_ATTEMPTS": str(args.attempts),
        "YUNTONG_SOAK_S": str(args.seconds),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    command = [sys.executable, "-m", "pytest", "-n", "0", "-s", "-q", "-p", "no:cacheprovider"]
    command.append(TEST)  # (its time limit grows with --seconds)
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
