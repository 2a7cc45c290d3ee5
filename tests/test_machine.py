"""What the host can do: its vector unit names timings, and decides where bfloat16 autocast is worth it."""

import pytest
import torch

from hf_rnn import machine
from hf_rnn.recipes.imdb.job import JobArguments, stage_training_args


@pytest.mark.parametrize("unit, fast", [("AVX-512 + AMX", True), ("AVX-512", False), ("AVX2", False), (None, False)])
def test_bfloat16_is_fast_on_amx_cpus_only(monkeypatch, unit, fast):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(machine, "cpu_name_and_vector_unit", lambda: ("cpu", unit))
    assert machine.bfloat16_is_fast() is fast


@pytest.mark.parametrize("precision, amx, bf16", [("fp32", True, False), ("bf16", False, True), ("auto", True, True),
                                                  ("auto", False, False)])
def test_precision_sets_bf16_for_every_stage_and_trains_on_the_cpu_without_a_gpu(monkeypatch, tmp_path, precision,
                                                                                 amx, bf16):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(machine, "cpu_name_and_vector_unit", lambda: ("cpu", "AVX-512 + AMX" if amx else "AVX2"))
    job = JobArguments(output_dir=str(tmp_path), precision=precision)
    for kind in ("lm", "classifier"):
        args = stage_training_args(job, "stage", kind, {}, {})
        assert (args.bf16, args.use_cpu) == (bf16, bf16)


def test_a_users_bf16_flag_wins_over_the_precision(monkeypatch, tmp_path):
    monkeypatch.setattr(machine, "cpu_name_and_vector_unit", lambda: ("cpu", "AVX-512 + AMX"))
    job = JobArguments(output_dir=str(tmp_path), precision="auto")
    assert stage_training_args(job, "stage", "lm", {}, {"bf16": False}).bf16 is False


def test_a_users_bf16_flag_on_a_cpu_trains_on_the_cpu(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = stage_training_args(JobArguments(output_dir=str(tmp_path)), "stage", "lm", {}, {"bf16": True})
    assert (args.bf16, args.use_cpu) == (True, True)
