"""Generation cost per token with the recurrent state carried (the cache) vs without it (the prefix re-run every step).

The measurement is bench_models.generation_cost (greedy `generate`, batch 1, 16-token prompt), here at the `full`
preset's LM shapes (embedding 256, one LSTM 512 layer, 20k words, random weights) and up to 1,024 new tokens.
"""

import dataclasses

from bench_models import generation_cost
from common import save_plot, write_results

NAME = "generation"


@dataclasses.dataclass(frozen=True)
class Settings:
    embedding: int
    hidden: int
    vocab_size: int
    new_tokens: tuple[int, ...]


SIZES = {
    "smoke": Settings(embedding=16, hidden=32, vocab_size=500, new_tokens=(8, 32)),
    "full": Settings(embedding=256, hidden=512, vocab_size=20_000, new_tokens=(64, 256, 1024)),
}


def plot(rows: list[dict]):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    tokens = [row["new tokens"] for row in rows]
    for column in ("cached ms/token", "uncached ms/token"):
        axis.plot(tokens, [row[column] for row in rows], marker="o", label=column.replace(" ms/token", ""))
    axis.set(xscale="log", xlabel="new tokens generated", ylabel="ms per token",
             title="Greedy generation, LSTM LM, batch 1")
    axis.legend()
    return save_plot(figure, NAME)


def run(ctx):
    s = ctx.pick(SIZES)
    generation_cost(s.embedding, s.hidden, s.vocab_size, s.new_tokens[:1])  # warm-up: the first generate pays set-up
    rows, load_before, load_after = ctx.timed(lambda: generation_cost(s.embedding, s.hidden, s.vocab_size,
                                                                       s.new_tokens))
    notes = (f"LSTM LM: embedding {s.embedding}, one layer of {s.hidden}, {s.vocab_size:,} words (full softmax at "
             f"generation), random weights; greedy, batch 1, 16-token prompt, {ctx.threads} threads. Cached: "
             f"`generate(use_cache=True)` carries the state; uncached re-runs the whole prefix for every new token. "
             f"1-minute load average {load_before:.2f} before timing, {load_after:.2f} after. Plot: {NAME}.png.")
    write_results(NAME, {"Generation, ms per new token": (rows, ["new tokens", "cached ms/token",
                                                                  "uncached ms/token"])},
                  notes, raw={"load_before": load_before, "load_after": load_after,
                              "settings": dataclasses.asdict(s)})
    plot(rows)
