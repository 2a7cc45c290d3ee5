"""What CPU a timing was taken on: the same 2-core machine is not the same host every day (AVX2 on some, AVX-512
with AMX on others), and training speed differs about 2x between them, so benchmarks and model cards name it."""

import platform
from pathlib import Path

# Widest first: the first unit whose flag /proc/cpuinfo lists names the host.
VECTOR_UNITS = (("AVX-512 + AMX", "amx_tile"), ("AVX-512", "avx512f"), ("AVX2", "avx2"))


def cpu_name_and_vector_unit() -> tuple[str, str | None]:
    """The CPU's model name and its widest vector unit (None when /proc/cpuinfo is unreadable or lists none)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "cpu", None
    field = lambda key: next((line.split(":", 1)[1] for line in lines if line.startswith(key)), "")  # noqa: E731
    flags = set(field("flags").split())
    unit = next((name for name, flag in VECTOR_UNITS if flag in flags), None)
    return field("model name").strip() or "cpu", unit


def bfloat16_is_fast() -> bool:
    """Whether bfloat16 autocast trains faster than float32 here: on a GPU that supports it, or a CPU with AMX,
    whose tiles multiply bfloat16 matrices (the full preset's LM and classifier steps about 2x faster on the
    AVX-512 + AMX host: docs/results.md, "Bfloat16 autocast"). Elsewhere the CPU converts bfloat16 in
    software."""
    import torch  # here, so that naming the host does not need torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_name_and_vector_unit()[1] == "AVX-512 + AMX"


def cpu_bfloat16_settings(bf16: bool) -> dict:
    """The TrainingArguments that bf16 needs here: without a GPU, transformers takes it only with `use_cpu`."""
    import torch

    return {"use_cpu": True} if bf16 and not torch.cuda.is_available() else {}
