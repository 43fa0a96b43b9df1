"""`python -m bench`: see bench/run.py and docs/performance.md."""

import sys

from bench.run import main

if __name__ == "__main__":  # the fake OpenAI's process (spawned) imports this module too
    sys.exit(main())
