"""A stand-in for ``python -m bench.worker``: misbehaves as $FAKE_WORKER says.

It writes results as the real worker does (a schema-2 record of the cell it was given),
so the runner cannot tell it apart.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

job = json.loads(Path(sys.argv[1]).read_text())
result = Path(sys.argv[2])
behaviour = os.environ["FAKE_WORKER"]
record = {"schema_version": 2, "run_id": job["run_id"], **job["cell"]}


def write(**fields):
    record.update(fields)
    result.write_text(json.dumps(record))


if behaviour == "ok" and "FAKE_WORKER_LOG" in os.environ:
    # Which phase ran, with which compile-cache directory (the runner's environment).
    with open(os.environ["FAKE_WORKER_LOG"], "a") as log:
        log.write(f"{job['phase']} {os.environ.get('JAX_COMPILATION_CACHE_DIR')}\n")

if behaviour == "ok" and job["phase"] == "warm":
    write(status="ok", build_s=0.05, first_call_s=0.25)
elif behaviour == "ok":
    write(
        status="ok",
        build_s=0.05,
        first_call_s=0.5,
        samples_ms=[1.0, 2.0],
        pipeline_steps=2,
        pipeline_s=0.04,
    )
elif behaviour == "crash":
    print("loading the model", file=sys.stderr)
    print("RuntimeError: boom in the kernel", file=sys.stderr)
    sys.exit(3)
elif behaviour == "segv":
    print("about to fault", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGSEGV)
elif behaviour == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
elif behaviour == "silent":
    sys.exit(0)
elif behaviour == "garbage":
    result.write_text(json.dumps({**record, "status": "ok", "samples_ms": "fast"}))
elif behaviour == "hang":
    write(build_s=0.1, first_call_s=1.5)  # measured before the hang: must survive the timeout
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(os.environ["FAKE_WORKER_PIDFILE"]).write_text(str(grandchild.pid))
    time.sleep(600)
else:
    raise SystemExit(f"unknown FAKE_WORKER {behaviour!r}")
