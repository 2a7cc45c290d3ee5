"""Memory task: does a plain tanh RNN forget what an LSTM or GRU remembers d steps back?

Each sequence is one of `classes` recall symbols, then d distractors drawn from other symbols, then a query
symbol; the model (an hf_rnn classifier, `classifier_pooling="last"`) must name the first symbol at the query.
The three cells get (nearly) the same number of parameters: the LSTM's hidden size is set and the others' are
widened to match. Each cell's model is trained on the distances in turn, shortest first, on fresh random sequences
(stopping early once a distance is solved): at d = 1,000 the gradient reaching step 0 of a freshly initialised model
of any cell is too small to learn from, so the curriculum asks whether a cell can *keep* what it learnt as the gap
grows. For each d: held-out accuracy, and the norm of the gradient of the right class's logit with respect to the
step-0 input, ||dz_y/dx_0||, at initialisation (mean over several seeds: what the first training steps can learn
from) and after training (how much the answer still depends on step 0).
"""

import dataclasses
import time

import torch
import torch.nn.functional as F

from common import load_average, save_plot, write_results
from hf_rnn import RNNConfig, RNNForSequenceClassification

NAME = "memory_task"
CELLS = ("rnn", "gru", "lstm")


@dataclasses.dataclass(frozen=True)
class Settings:
    distances: tuple[int, ...]
    lstm_hidden: int  # the others are widened to the LSTM's parameter count
    embedding: int
    classes: int
    distractors: int
    batch: int
    max_steps: int
    token_budget: int  # per distance: long distances get fewer steps (each step costs d + 2 time steps)
    eval_every: int
    eval_sequences: int
    probe_sequences: int  # for the gradient norms
    init_seeds: int
    learning_rate: float = 3e-3
    # One thread: with hidden sizes near 100 a step is hundreds of tiny sequential matrix products, which a second
    # thread does not speed up, and on a shared 2-core machine waiting for it made steps 5-20x slower.
    threads: int = 1


SIZES = {
    "smoke": Settings(distances=(5, 20), lstm_hidden=8, embedding=8, classes=4, distractors=8, batch=16,
                      max_steps=6, token_budget=10**6, eval_every=3, eval_sequences=64, probe_sequences=32,
                      init_seeds=2),
    # ~10 minutes on one core at worst (no distance solved early): 300 steps up to d=200, 199 at 500, 100 at 1,000.
    "full": Settings(distances=(5, 10, 20, 50, 100, 200, 500, 1000), lstm_hidden=64, embedding=16, classes=8,
                     distractors=8, batch=32, max_steps=300, token_budget=3_200_000, eval_every=50, eval_sequences=256,
                     probe_sequences=128, init_seeds=3),
}
SOLVED = 0.99  # accuracy at which training stops early


def vocabulary_size(s: Settings) -> int:
    return 1 + s.classes + s.distractors + 1  # padding id 0, recall symbols, distractors, the query symbol


def make_batch(s: Settings, distance: int, size: int, generator: torch.Generator):
    """Ids [size, distance + 2]: recall symbol, `distance` distractors, query; labels: which recall symbol."""
    labels = torch.randint(0, s.classes, (size,), generator=generator)
    noise = torch.randint(0, s.distractors, (size, distance), generator=generator) + 1 + s.classes
    query = torch.full((size, 1), vocabulary_size(s) - 1)
    return torch.cat([labels[:, None] + 1, noise, query], dim=1), labels


def model_for(cell: str, hidden: int, s: Settings) -> RNNForSequenceClassification:
    config = RNNConfig(cell_type=cell, vocab_size=vocabulary_size(s), embedding_size=s.embedding, hidden_size=hidden,
                       num_hidden_layers=1, classifier_pooling="last", classifier_hidden_size=0,
                       classifier_dropout=0.0, num_labels=s.classes, pad_token_id=0)
    return RNNForSequenceClassification(config)


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def hidden_matching(cell: str, budget: int, s: Settings) -> int:
    """The hidden size whose model has the parameter count nearest `budget` (counted on real models, not a formula;
    the count grows with the hidden size, so a bisection finds it)."""
    count = lambda hidden: parameter_count(model_for(cell, hidden, s))
    low, high = 1, 8 * s.lstm_hidden  # count(high) >= budget: a tanh RNN has a quarter of an LSTM's gates
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if count(middle) < budget else (low, middle)
    return min((low - 1, low), key=lambda hidden: abs(count(hidden) - budget) if hidden > 0 else budget)


def step0_gradient_norm(model, ids, labels) -> float:
    """Mean over sequences of ||d z_y / d x_0||: how much the right class's logit moves with the step-0 input.

    The logit, not the loss: once a cell solves the task its loss (and every gradient of it) goes to zero, which
    would read as forgetting; the logit's sensitivity to step 0 is what remembering means.
    """
    embedded = model.get_input_embeddings()(ids).detach().requires_grad_(True)  # [B, T, E]
    logits = model(inputs_embeds=embedded).logits  # [B, classes]
    logits.gather(1, labels[:, None]).sum().backward()  # rows are independent: each gets its own logit's gradient
    return embedded.grad[:, 0].norm(dim=-1).mean().item()


@torch.no_grad()
def accuracy(model, ids, labels) -> float:
    return (model(input_ids=ids).logits.argmax(-1) == labels).float().mean().item()


def steps_for(distance: int, s: Settings) -> int:
    return min(s.max_steps, s.token_budget // (s.batch * (distance + 2)))


def train(model, s: Settings, distance: int, seed: int) -> tuple[int, float]:
    """Adam on fresh random batches, gradient clipping at 1 (the tanh RNN's gradients can explode); returns
    (steps taken, accuracy on held-out sequences)."""
    generator = torch.Generator().manual_seed(seed)
    held_out = make_batch(s, distance, s.eval_sequences, torch.Generator().manual_seed(10_000 + seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=s.learning_rate)
    step, score, budget = 0, accuracy(model.eval(), *held_out), steps_for(distance, s)
    while step < budget and score < SOLVED:
        model.train()
        ids, labels = make_batch(s, distance, s.batch, generator)
        loss = F.cross_entropy(model(input_ids=ids).logits, labels)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        if step % s.eval_every == 0 or step == budget:
            score = accuracy(model.eval(), *held_out)
    return step, score


def gradient_at_init(cell: str, hidden: int, probe, s: Settings) -> float:
    """||dz_y/dx_0|| of freshly initialised models (mean over seeds): what the first training steps can learn from."""
    norms = []
    for seed in range(s.init_seeds):
        torch.manual_seed(seed)
        norms.append(step0_gradient_norm(model_for(cell, hidden, s), *probe))
    return sum(norms) / len(norms)


def measure_cell(cell: str, hidden: int, s: Settings) -> list[dict]:
    """One model trained on each distance in turn, starting from the one trained on the shorter distance before
    (a curriculum: at a long distance the gradient reaching step 0 of a fresh model is too small to learn from)."""
    torch.manual_seed(0)
    model, rows = model_for(cell, hidden, s), []
    for distance in s.distances:
        probe = make_batch(s, distance, s.probe_sequences, torch.Generator().manual_seed(20_000))
        start = time.time()
        steps, score = train(model, s, distance, seed=distance)
        rows.append({"cell": cell, "hidden": hidden, "parameters": parameter_count(model), "d": distance,
                     "accuracy": score, "chance": 1 / s.classes, "steps": steps,
                     "grad norm at step 0, init": gradient_at_init(cell, hidden, probe, s),
                     "grad norm at step 0, trained": step0_gradient_norm(model, *probe),
                     "seconds": time.time() - start})
        print(rows[-1], flush=True)
    return rows


def positive(rows: list[dict], column: str) -> tuple[list, list]:
    """(d, value) where the value is above 0: float32 underflows to 0, which a log axis cannot show."""
    points = [(row["d"], row[column]) for row in rows if row[column] > 0]
    return tuple(zip(*points)) if points else ([], [])


def plot(rows: list[dict], s: Settings):
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for cell in CELLS:
        mine = [row for row in rows if row["cell"] == cell]
        d = [row["d"] for row in mine]
        left.plot(d, [row["accuracy"] for row in mine], marker="o", label=cell)
        line, = right.plot(*positive(mine, "grad norm at step 0, init"), marker="o", label=f"{cell}, init")
        right.plot(*positive(mine, "grad norm at step 0, trained"), marker="x", linestyle="--",
                   color=line.get_color(), label=f"{cell}, trained")
    left.axhline(1 / s.classes, color="grey", linestyle=":", label="chance")
    left.set(xscale="log", xlabel="distance d (steps between the symbol and the query)", ylabel="test accuracy",
             title="Recall the first symbol after d distractors")
    right.set(xscale="log", yscale="log", xlabel="distance d", ylabel="||dz_y/dx_0|| per sequence",
              title="Gradient of the right logit at step 0 (0 = underflow: not drawn)")
    left.legend()
    right.legend(fontsize=7)
    return save_plot(figure, NAME)


def describe(s: Settings, hidden: dict, budget: int, load: float) -> str:
    return (f"{s.classes} recall symbols, {s.distractors} distractor symbols, one layer; embedding {s.embedding}; "
            f"hidden sizes {hidden} for ~{budget:,} parameters each. Adam lr {s.learning_rate}, batch {s.batch}, "
            f"gradient clipping 1.0; one model per cell trained on the distances in turn (each starting from the "
            f"model of the shorter distance before), min({s.max_steps}, {s.token_budget:,} tokens / (batch x (d+2))) "
            f"steps of fresh random sequences per distance, stopping once held-out accuracy reaches {SOLVED} (checked "
            f"every {s.eval_every} steps); accuracy on {s.eval_sequences} held-out sequences. Gradient norms: mean "
            f"over {s.probe_sequences} sequences of the gradient of the right class's logit at the step-0 input "
            f"embedding, at initialisation (mean of {s.init_seeds} seeds) and after training (the logit's: the "
            f"loss's gradient vanishes once a task is solved; 0: below float32's range). A cell that stores the "
            f"symbol in saturated gates answers right while this gradient vanishes: the gradient says what training "
            f"can learn from, the accuracy what the trained cell keeps. {s.threads} torch thread(s); 1-minute load "
            f"average {load:.2f} at the start (the seconds depend on it, the rest does not). Plot: {NAME}.png.")


def run(ctx):
    s = ctx.pick(SIZES)
    load = load_average()
    torch.set_num_threads(s.threads)
    try:
        budget = parameter_count(model_for("lstm", s.lstm_hidden, s))
        hidden = {cell: hidden_matching(cell, budget, s) for cell in CELLS}
        rows = [row for cell in CELLS for row in measure_cell(cell, hidden[cell], s)]
    finally:
        torch.set_num_threads(ctx.threads)
    columns = ["cell", "hidden", "parameters", "d", "accuracy", "chance", "steps", "grad norm at step 0, init",
               "grad norm at step 0, trained", "seconds"]
    write_results(NAME, {"Accuracy and gradient reaching step 0 vs distance": (rows, columns)},
                  describe(s, hidden, budget, load), raw={"settings": dataclasses.asdict(s)})
    plot(rows, s)
