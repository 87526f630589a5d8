"""A stand-in for ``python -m bench.worker.main``: misbehaves as $FAKE_WORKER says.

It writes results as the real worker does (a schema-2 record of the cell it was given),
so the runner cannot tell it apart.
"""

import json
import os
import shutil
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


if "FAKE_WORKER_SPANS" in os.environ:
    # When and where it ran (a GPU pool's placement): appended as one line at the end.
    start = time.time()
    time.sleep(float(os.environ.get("FAKE_WORKER_SLEEP", "0.3")))
    cell = job["cell"]
    with open(os.environ["FAKE_WORKER_SPANS"], "a") as spans:
        label = f"{cell['model']} {cell['backend']} {cell['device']} b{cell['batch_size']}"
        gpu, cpus = (os.environ.get(v, "-") for v in ("CUDA_VISIBLE_DEVICES", "GRAPHBENCH_CPUS"))
        where = f"{gpu}|{cpus}"
        spans.write(f"{label}|{job['phase']}|{where}|{start}|{time.time()}\n")

if behaviour == "kill-parent-once":
    # The first cell to get here kills the process that started it (a Ray task's worker
    # process: what a dying node looks like); every later cell is ok.
    marker = Path(os.environ["FAKE_WORKER_MARKER"])
    try:
        marker.touch(exist_ok=False)
    except FileExistsError:
        behaviour = "ok"
    else:
        os.kill(os.getppid(), signal.SIGKILL)
        for d in job["guard"]["dirs"]:  # what a real worker's watchdog does now
            shutil.rmtree(d, ignore_errors=True)
        sys.exit(1)

if behaviour == "ok" and "FAKE_WORKER_LOG" in os.environ:
    # Which phase ran, with which compile-cache directory and CUDA driver JIT cache (the
    # runner's environment).
    with open(os.environ["FAKE_WORKER_LOG"], "a") as log:
        caches = (os.environ.get(n) for n in ("JAX_COMPILATION_CACHE_DIR", "CUDA_CACHE_PATH"))
        log.write(" ".join([job["phase"], *map(str, caches)]) + "\n")

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
elif behaviour == "sentinel":
    # The real sentinel around a fixed NumPy loop standing in for the samples. The backend
    # named by $FAKE_WORKER_SLOW runs, the first time only ($FAKE_WORKER_MARKER), with a busy
    # process per core beside it: a slow window planted in one cell.
    import numpy as np

    from bench.worker.sentinel import SentinelWatch

    busy = []
    marker = Path(os.environ["FAKE_WORKER_MARKER"])
    if job["cell"]["backend"] == os.environ["FAKE_WORKER_SLOW"] and not marker.exists():
        marker.touch()
        spin = "while True: pass"
        busy = [
            subprocess.Popen([sys.executable, "-c", spin]) for _ in range(4 * (os.cpu_count() or 2))
        ]
        time.sleep(0.5)  # the spinners are running before anything is timed
    watch = SentinelWatch()
    watch.before()
    x = np.ones(1 << 16, dtype=np.float32)
    samples = []
    for _ in range(10):
        start = time.perf_counter()
        for _ in range(20):
            np.multiply(x, x, out=x)
        samples.append((time.perf_counter() - start) * 1e3)
    watch.after()
    for p in busy:
        p.kill()
    write(
        status="ok",
        build_s=0.05,
        first_call_s=0.5,
        samples_ms=samples,
        pipeline_steps=10,
        pipeline_s=sum(samples) / 1e3,
        sentinel_before_ms=watch.before_ms,
        sentinel_after_ms=watch.after_ms,
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
