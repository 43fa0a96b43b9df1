"""The benchmark suite: what this proxy adds to OpenAI calls, measured side by side (`make bench`).

Run it with `python -m bench` (see `python -m bench --help`) and read docs/performance.md.
"""
