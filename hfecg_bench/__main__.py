"""`python -m hfecg_bench`: the command line."""
import sys

from hfecg_bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
