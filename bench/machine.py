"""What machine a figure was measured on: CPU model, cores, vector extensions, GPU.

Every timed figure in cnnzoo names its machine; `describe_machine()` is the one place
that reads it, so the benches and the results file say it the same way.
"""

import os

from cnnzoo.doctor import cpu_model_and_flags


def describe_machine():
    """Returns `{"cpu", "cores", "vector", "machine"}`: the CPU's model name, the cores this
    process may use, its widest vector extension (`avx512`, `avx2`...), and one line
    saying all three, e.g. "AMD EPYC, 2 cores, AVX-512".
    """
    model, flags = cpu_model_and_flags()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    vector = next((name for name, flag in [("AVX-512", "avx512f"), ("AVX2", "avx2"),
                                           ("AVX", "avx"), ("NEON", "asimd")]
                   if flag in flags), "none")
    return {"cpu": model, "cores": cores, "vector": vector,
            "machine": f"{model}, {cores} cores, {vector}"}
