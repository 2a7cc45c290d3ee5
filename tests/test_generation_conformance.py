"""Generation the way transformers 5.25 drives it, held for hf_rnn: extra forward arguments arrive, generation from
`inputs_embeds` (left-padded, continued from a cache), continuing with the new tokens only, and assisted decoding.
Every path must write exactly what greedy search from the token ids writes."""

import pytest
import torch

from hf_rnn import RNNForCausalLM
from conftest import tiny_config

CELLS = ["rnn", "lstm", "gru"]


def ids_batch(rows=2, length=6, seed=0):
    return torch.randint(4, 20, (rows, length), generator=torch.Generator().manual_seed(seed))


def greedy(lm, ids, new_tokens, **kwargs):
    return lm.generate(ids, max_new_tokens=new_tokens, do_sample=False, min_new_tokens=new_tokens, **kwargs)


# Item 6: prepare_inputs_for_generation passes every extra keyword on to forward.

def test_an_argument_of_a_wrapped_forward_arrives_at_every_step():
    lm = RNNForCausalLM(tiny_config()).eval()
    received = []
    original = lm.forward

    def forward(*args, marker=None, **kwargs):  # e.g. an adapter or a tracing wrapper with an argument of its own
        received.append(marker)
        return original(*args, **kwargs)

    lm.forward = forward
    lm.generate(ids_batch(), max_new_tokens=3, do_sample=False, marker="seen")
    assert received == ["seen"] * 3
