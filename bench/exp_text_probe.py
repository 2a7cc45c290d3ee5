"""Text probe of the LM's memory: "I grew up in France ... my mother tongue is ___", the gap growing.

For each (country, language) pair whose words are both single known tokens, the LM reads `<s> i grew up in
{country} .`, then d tokens of filler (running text of training reviews with every country and language word taken
out), then `my mother tongue is`, and gives a probability to the next word. Per distance d: the mean probability of
the right language, the same without the cue sentence (what the language gets from the filler and the question
alone), and how often the right language is the most probable of all the pairs' languages (chance: 1 / pairs).
Needs `--run RUN_FOLDER` (a finished `hf-rnn imdb` job: its tokenizer/ and lm/).
"""

import dataclasses
import random

import torch

from common import save_plot, write_results
from suite import not_measured

NAME = "text_probe"
CUE, QUESTION = "i grew up in {} .", "my mother tongue is"
PAIRS = (("france", "french"), ("germany", "german"), ("italy", "italian"), ("spain", "spanish"),
         ("russia", "russian"), ("japan", "japanese"), ("china", "chinese"), ("greece", "greek"),
         ("sweden", "swedish"), ("poland", "polish"), ("portugal", "portuguese"), ("turkey", "turkish"),
         ("korea", "korean"), ("india", "hindi"), ("brazil", "portuguese"), ("mexico", "spanish"))
# The tiny vocabulary of a smoke run has no country names: stand-in pairs of words it has, so the code runs.
SMOKE_PAIRS = (("movie", "great"), ("film", "bad"), ("plot", "boring"), ("acting", "awful"))


@dataclasses.dataclass(frozen=True)
class Settings:
    distances: tuple[int, ...]
    fillers: int  # filler passages per distance
    filler_reviews: int  # training reviews the filler text is drawn from
    pairs: tuple[tuple[str, str], ...]
    seed: int = 0


SIZES = {
    "smoke": Settings(distances=(0, 8), fillers=2, filler_reviews=40, pairs=SMOKE_PAIRS),
    "full": Settings(distances=(0, 5, 10, 20, 50, 100, 200, 500, 1000), fillers=8, filler_reviews=2000, pairs=PAIRS),
}


def word_id(tokenizer, word: str) -> int | None:
    """The id of `word` when the tokenizer keeps it as one known token, else None."""
    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    return ids[0] if len(ids) == 1 and ids[0] != tokenizer.unk_token_id else None


def known_pairs(tokenizer, pairs) -> list[tuple[str, str]]:
    return [(cue, answer) for cue, answer in pairs if word_id(tokenizer, cue) and word_id(tokenizer, answer)]


def filler_ids(ctx, tokenizer, s: Settings) -> list[int]:
    """Running text of training reviews (never test), every probe word removed so the filler gives nothing away."""
    banned = {word_id(tokenizer, word) for pair in s.pairs for word in pair} | set(tokenizer.all_special_ids)
    train = ctx.imdb()["train"].shuffle(seed=s.seed).select(range(min(s.filler_reviews, len(ctx.imdb()["train"]))))
    encoded = tokenizer(list(train["text"]), add_special_tokens=False)["input_ids"]
    return [token for review in encoded for token in review if token not in banned]


def probe_ids(tokenizer, cue: str | None, filler: list[int]) -> list[int]:
    """`<s>` [cue sentence] filler question: the ids the LM reads before the blank."""
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]
    start = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return start + (encode(CUE.format(cue)) if cue else []) + filler + encode(QUESTION)


@torch.no_grad()
def next_word_probabilities(lm, rows: list[list[int]]) -> torch.Tensor:
    """[rows, vocab] probabilities of the next token; rows of one batch have the same length (no padding). Only the
    last position's logits are computed (a [rows, 1,000, 20k] tensor would take over a gigabyte)."""
    return lm(input_ids=torch.tensor(rows), logits_to_keep=1).logits[:, -1].softmax(-1)


def measure_distance(lm, tokenizer, pairs, stream: list[int], distance: int, s: Settings, rng) -> dict:
    answers = torch.tensor([word_id(tokenizer, answer) for _, answer in pairs])
    right, without_cue, top = [], [], []
    for _ in range(s.fillers):
        offset = rng.randrange(max(1, len(stream) - distance))
        filler = (stream * (1 + distance // max(1, len(stream))))[offset : offset + distance]
        cued = next_word_probabilities(lm, [probe_ids(tokenizer, cue, filler) for cue, _ in pairs])  # [P, V]
        uncued = next_word_probabilities(lm, [probe_ids(tokenizer, None, filler)])[0]  # [V]
        index = torch.arange(len(pairs))
        right.append(cued[index, answers].mean().item())
        without_cue.append(uncued[answers].mean().item())
        top.append((cued[:, answers].argmax(-1) == index).float().mean().item())  # among the pairs' languages
    mean = lambda values: sum(values) / len(values)
    return {"distance": distance, "P(right word)": mean(right), "P(right word), no cue": mean(without_cue),
            "lift": mean(right) / max(mean(without_cue), 1e-12), "right word ranked first": mean(top),
            "chance": 1 / len(pairs)}


def plot(rows: list[dict]):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4))
    distances = [max(row["distance"], 1) for row in rows]  # d = 0 drawn at 1 on the log axis
    axis.plot(distances, [row["P(right word)"] for row in rows], marker="o", label="after the cue")
    axis.plot(distances, [row["P(right word), no cue"] for row in rows], marker="x", label="no cue")
    axis.set(xscale="log", yscale="log", xlabel="tokens between the cue and the blank (0 drawn at 1)",
             ylabel="P(right language)", title='"I grew up in France ... my mother tongue is ___"')
    axis.legend()
    return save_plot(figure, NAME)


def run(ctx):
    from transformers import AutoTokenizer

    from hf_rnn import RNNForCausalLM

    s, run_dir = ctx.pick(SIZES), ctx.trained_run()
    if run_dir is None:
        message = not_measured("a finished full `hf-rnn imdb` run", "--run RUN_FOLDER", NAME)
        print(f"{NAME}: {message}")  # nothing written: the claims table says so, and --run fills it later
        return
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "tokenizer")
    lm = RNNForCausalLM.from_pretrained(run_dir / "lm").eval()
    pairs = known_pairs(tokenizer, s.pairs)
    if len(pairs) < 2:
        raise ValueError(f"Only {len(pairs)} probe pair(s) are single known words for this tokenizer: {pairs}")
    stream, rng = filler_ids(ctx, tokenizer, s), random.Random(s.seed)
    rows = [measure_distance(lm, tokenizer, pairs, stream, distance, s, rng) for distance in s.distances]
    notes = (f"LM: {run_dir / 'lm'}. {len(pairs)} pairs known to the tokenizer: "
             f"{', '.join(f'{cue}/{answer}' for cue, answer in pairs)}. Per distance, {s.fillers} filler passages "
             f"from {s.filler_reviews:,} training reviews (probe words removed), the same for every pair. 'right word "
             f"ranked first': the right language beats the other pairs' languages. Plot: {NAME}.png.")
    write_results(NAME, {"P(right word) vs distance from the cue": (rows, [
        "distance", "P(right word)", "P(right word), no cue", "lift", "right word ranked first", "chance"])},
                  notes, raw={"pairs": pairs, "settings": dataclasses.asdict(s)})
    plot(rows)
