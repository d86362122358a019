"""`python -m bench.differential --examples 10000`: the differential test of what the upstream
receives, at length (tests/differential.py says what it checks). Prints the count of examples,
faults and forwarded requests; exits 1 on any violation."""

from __future__ import annotations

import sys

from tests.differential import main

if __name__ == "__main__":
    sys.exit(main())
