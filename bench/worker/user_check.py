"""``python -m bench.worker.user_check SOURCE``: a user's model checked before a run, in a child
process (it imports the user's file and its framework, which the parent never does).

On success it prints the model's registry entry (models.user) as one JSON line and exits 0:
source, framework, default batch size, bytes of one example, parameter count. Otherwise it
prints one line saying what is wrong, naming the file and what was expected, and exits 2:
the file cannot be imported, the function is missing or raises, returns something other
than a ``bench.ModelSpec``, the batch is not NumPy arrays, the model cannot be built or run
eagerly, its output is not finite, or two builds from one seed give different weights
(parity compares processes that each build the model from the seed).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys

import numpy as np

import models
from bench import backends
from bench.errors import UsageError
from models import user
from models.user import UserModelError, one_line

CHECK_SEED = 0


def digest(weights: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(weights):
        h.update(name.encode())
        h.update(np.ascontiguousarray(weights[name]).tobytes())
    return h.hexdigest()


def keras_check_backend() -> str | None:
    """The backend a Keras model is checked on: an eager Keras backend whose framework this
    interpreter has, TensorFlow's first (None: none). The choice is made before the user's
    file is imported, so before its framework is known: Keras's own default, TensorFlow,
    is also what a ``tf`` model built of Keras layers needs."""
    eager = [n for n, i in backends.BACKENDS.items() if i.keras_backend and not i.static]
    eager.sort(key=lambda n: backends.get(n).keras_backend != "tensorflow")
    installed = [n for n in eager if not backends.missing_packages(backends.get(n).framework)]
    return installed[0] if installed else None


def check(source_text: str) -> dict:
    """The registry entry of a usable model; UserModelError saying what is wrong otherwise."""
    source = user.parse(source_text)
    # Keras reads KERAS_BACKEND once, when the user's file imports it: set before loading.
    keras_backend = keras_check_backend()
    if keras_backend is not None:
        os.environ.update(backends.get(keras_backend).env())
    made = user.load(source.text)
    framework = made.framework
    if framework == "keras":
        missing = None if keras_backend else "no framework of a Keras backend is installed"
        missing = missing or (
            None if importlib.util.find_spec("keras") else "keras is not installed"
        )
        baseline = keras_backend
    else:
        missing = backends.not_installed_reason(framework)
        baseline = backends.eager_baseline(framework)
    if missing or baseline is None:
        raise UserModelError(f"{source.text}: a {framework} model, but {missing}")
    x1, y1 = user.checked_batch(made, source.text, 1, CHECK_SEED)
    entry = {
        "source": source.text,
        "framework": framework,
        "batch_size": made.batch_size,
        "example_bytes": int(x1.nbytes + y1.nbytes),
    }
    user.register(source.name, {**entry, "describe": "", "parameters": None})
    spec = models.spec(source.name)
    cfg = spec.PROFILES["quick"]
    batch = spec.make_batch(cfg, made.batch_size, CHECK_SEED + 1)
    cls = backends.load(baseline)
    cls.configure("cpu", 1, "float32")
    digests, weights = [], {}
    for _ in range(2):
        backend = cls()
        try:
            backend.build(source.name, cfg, spec.init_params(cfg, CHECK_SEED), "infer", "cpu")
        except UserModelError:
            raise
        except Exception as exc:
            raise UserModelError(
                f"{source.text}: build({CHECK_SEED}) failed: {one_line(exc)}"
            ) from exc
        try:
            out = backend.to_numpy(backend.step(backend.put(batch)))
        except Exception as exc:
            raise UserModelError(
                f"{source.text}: the model's forward pass on make_batch({made.batch_size}, "
                f"{CHECK_SEED + 1}) raised {one_line(exc)}"
            ) from exc
        if not np.all(np.isfinite(out)):
            raise UserModelError(
                f"{source.text}: the model's output on make_batch({made.batch_size}, "
                f"{CHECK_SEED + 1}) is not finite (NaN or inf); expected finite logits"
            )
        weights = backend.export_params()
        digests.append(digest(weights))
    if digests[0] != digests[1]:
        raise UserModelError(
            f"{source.text}: two build({CHECK_SEED}) calls gave different weights; expected "
            "weights that depend only on the seed (parity builds the model in another process)"
        )
    parameters = int(sum(np.asarray(w).size for w in weights.values()))
    describe = f"{framework} model {source.name}: {parameters:,} parameters and buffers"
    # What the cost prior (bench.matrix.cost) knows of it before any cell runs: the FLOPs
    # of an inference step at its default batch, counted here, and its parameter tensors.
    flops, _ = user.flops_of(cfg, user.implementation(source.name), CHECK_SEED, batch, "infer")
    return {
        **entry,
        "parameters": parameters,
        "parameter_tensors": len(weights),
        "flops_infer": flops,
        "describe": describe,
    }


def main(argv: list[str]) -> int:
    try:
        entry = check(argv[0])
    except (UserModelError, UsageError) as exc:
        print(str(exc).splitlines()[0], file=sys.stderr)
        return 2
    print(json.dumps(entry, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
