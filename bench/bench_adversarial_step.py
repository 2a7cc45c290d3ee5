"""Cost of an adversarial training step (issue 15, lever 2): the full preset's classifier, one Trainer step
(forward, backward, AdamW) plain, adversarial with the embeddings' gradient from its own autograd pass, and
adversarial with that gradient taken from the clean loss's backward (what AdversarialTrainerMixin does on one
device).

    flock /tmp/hf_rnn_bench.lock python bench/bench_adversarial_step.py

Random ids, batch 32, reviews of 256 and 512 tokens (the full preset cuts reviews at 512), timed after two warm-up
steps. Writes bench/results/adversarial_step.{json,md}.
"""

import tempfile
import time
from unittest import mock

import torch
from common import write_results
from transformers import TrainingArguments

from hf_rnn import RNNConfig, RNNForSequenceClassification
from hf_rnn.recipes.imdb.presets import PRESETS
from hf_rnn.training.adversarial import AdversarialArguments, AdversarialLengthGroupedTrainer

BATCH, LENGTHS, STEPS = 32, (256, 512), 6
MODES = ("plain", "adversarial, separate gradient pass", "adversarial, gradient from the clean backward")


def full_preset_classifier() -> RNNForSequenceClassification:
    full = PRESETS["full"]
    torch.manual_seed(0)
    return RNNForSequenceClassification(RNNConfig(vocab_size=full["tokenizer"]["vocab_size"], num_labels=2,
                                                  **full["model"]))


def make_trainer(model, mode: str, output_dir: str) -> AdversarialLengthGroupedTrainer:
    adversarial = AdversarialArguments(**PRESETS["full"]["adversarial"]) if mode != "plain" else None
    args = TrainingArguments(output_dir=output_dir, report_to=[], use_cpu=True, learning_rate=1e-3)
    trainer = AdversarialLengthGroupedTrainer(model=model, args=args, adversarial=adversarial)
    trainer.create_optimizer()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train's loop
    return trainer


def seconds_per_step(trainer, length: int, separate_pass: bool) -> float:
    vocab = trainer.model.config.vocab_size
    with mock.patch.object(type(trainer), "_can_backward_clean_loss_now", lambda self: not separate_pass):
        for step in range(STEPS + 2):
            if step == 2:
                start = time.perf_counter()
            inputs = {"input_ids": torch.randint(4, vocab, (BATCH, length)),
                      "attention_mask": torch.ones(BATCH, length, dtype=torch.long),
                      "labels": torch.randint(0, 2, (BATCH,))}
            trainer.training_step(trainer.model, inputs)
            trainer.optimizer.step()
            trainer.optimizer.zero_grad()
    return (time.perf_counter() - start) / STEPS


def main():
    rows = []
    with tempfile.TemporaryDirectory() as output_dir:
        for length in LENGTHS:
            plain = None
            for mode in MODES:
                trainer = make_trainer(full_preset_classifier(), mode, output_dir)
                step = seconds_per_step(trainer, length, separate_pass=mode == MODES[1])
                plain = plain or step
                rows.append({"tokens": length, "step": mode, "s/step": step, "vs plain": step / plain})
                print(rows[-1], flush=True)
    notes = (f"The full preset's classifier (LSTM 256/512, 20k words, mean pooling, ULMFiT dropouts x 0.5; one "
             f"sentiment head), batch {BATCH} of random ids, one Trainer step with AdamW, mean of {STEPS} after two "
             f"warm-up steps; adversarial terms as in the full preset ({PRESETS['full']['adversarial']}).")
    print(write_results("adversarial_step", {"Training step": (rows, list(rows[0]))}, notes))


if __name__ == "__main__":
    main()
