"""``python -m bench.worker JOB.json RESULT.json``: one cell, in this fresh process."""

import sys

from bench.worker.main import main

sys.exit(main(sys.argv[1:]))
