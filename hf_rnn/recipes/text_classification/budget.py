"""`--time_budget`: size a job's stages to this machine's measured speed.

The plan is made after the tokenizer stage (which it runs, so the job then skips it): it counts the tokens each stage
reads, times a few training steps of the LM and of the classifier on batches of the job's shapes, and gives

* the LM `lm_share` of the time left (less when there is little text: at most `MAX_LM_EPOCHS` passes over it),
* each classifier enough epochs for about `TARGET_CLASSIFIER_STEPS` optimizer steps (from 2 to `MAX_CLASSIFIER_EPOCHS`)
  or what its share of the time allows,
* the backward direction and adversarial training (about twice a classifier's step) switched on, richest first,
  where they fit at those sizes; a switch the user set stays as set.

The plan is printed and saved (`budget.json` in output_dir) before training; at the end each stage's planned and
actual seconds are printed and saved beside it. A job over its budget by more than a tenth is a planner bug: the
report says so.
"""

import dataclasses
import json
import logging
import math
import os
import re
import time
from pathlib import Path

import torch

from ...training.adversarial import AdversarialArguments
from ...training.args import DataArguments, ModelArguments, TokenizerArguments, ULMFiTArguments
from ...training.model_setup import classifier_head, new_model_config
from ...training.stages import prepare_tokenizer
from ..imdb.job import JobArguments, Task, with_config_preset, with_preset
from ..imdb.presets import COMMON, preset_for

logger = logging.getLogger(__name__)

PLAN_FILE = "budget.json"
SAFETY = 0.85  # share of the budget planned for training; the rest absorbs evaluation, saving and planner error
MAX_LM_EPOCHS = 10
TARGET_CLASSIFIER_STEPS = 1_500
MAX_CLASSIFIER_EPOCHS = 10
LM_SHARE = 0.5  # of the time left after the tokenizer, for the LM stage(s), when there is text enough
INFERENCE_SPEEDUP = 3.0  # evaluation reads tokens about this much faster than training does (no backward pass)
PROBE_STEPS = 4
STAGE_OVERHEAD_S = 10.0  # a stage's set-up, final evaluation and saving, beside its training steps
LIMIT_SLACK = 1.15  # a stage's training stops at this multiple of its planned time (TimeLimitCallback) ...
LIMIT_FLOOR_S = 60.0  # ... plus this: a stage of seconds must not be cut by a slow first step (a run would then
# depend on the machine's jitter); the budget's unplanned share absorbs it


def parse_duration(text: str) -> float:
    """Seconds from `90s`, `15m`, `1.5h` or a plain number of seconds; anything else is a one-line error."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"--time_budget {text!r}: give a positive duration such as 900s, 15m or 1.5h.")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def apply_time_budget(budget_s: float, task: Task, job: JobArguments, data_args, tok_args, model_args, ulmfit,
                      adversarial, user: dict, explicit: frozenset):
    """The job's arguments with its task's preset resized to `budget_s` seconds (see the module doc)."""
    started = time.time()
    resolved_job = with_preset(JobArguments, task.presets[job.preset].get("job", {}), job, explicit)
    preset = preset_for(job.preset, user.get("bf16", resolved_job.bfloat16), task.presets)
    data = with_preset(DataArguments, preset["data"], data_args, explicit)
    tok = with_preset(TokenizerArguments, preset["tokenizer"], tok_args, explicit)
    model = with_config_preset(model_args or ModelArguments(), preset["model"])
    terms = with_preset(AdversarialArguments, preset.get("adversarial", {}), adversarial, explicit)
    dsd = task.load(data, seed=job.seed)
    tokenizer = prepare_tokenizer(tok, dsd, Path(job.output_dir) / "tokenizer")
    counts = token_counts(tokenizer, dsd, data)
    if not resolved_job.pretrain_lm:  # no LM stage: its share goes to the classifiers
        counts["lm_tokens"] = 0
    lm_batch = {**COMMON["lm"], **preset["lm_training"], **user}.get("per_device_train_batch_size", 32)
    cls_batch = {**COMMON["classifier"], **preset["classifier_training"], **user}.get("per_device_train_batch_size", 32)
    speed = measure_speed(tokenizer, dsd, data, model, lm_batch, cls_batch, counts["mean_train_length"])
    left = budget_s * SAFETY - (time.time() - started)
    # The switches a user set are theirs; the others the plan turns on where they fit.
    may_go_backward = resolved_job.backward or "backward" not in explicit
    may_add_adversarial = terms.enabled or "adversarial_weight" not in explicit
    plan = make_plan(left, counts, speed, data.block_size, lm_batch, cls_batch, may_go_backward,
                     may_add_adversarial)
    plan.update(budget_s=budget_s, planning_s=time.time() - started, counts=counts, speed=speed)
    save_plan(Path(job.output_dir), plan)
    print_plan(plan)
    sized = resized_preset(preset, plan, "max_steps" in user or "num_train_epochs" in user)
    limits = dataclasses.replace(ulmfit or ULMFiTArguments(), lm_time_limit=plan["limits_s"]["lm"],
                                 classifier_time_limit=plan["limits_s"]["classifier"])
    terms = dataclasses.replace(terms, adversarial_weight=1.0 if plan["adversarial"] else 0.0)
    return (Task(load=task.load, presets={**task.presets, job.preset: sized}, card=task.card),
            dataclasses.replace(job, backward=plan["backward"]), limits, terms,
            explicit | {"backward", "adversarial_weight"})


def token_counts(tokenizer, dsd, data: DataArguments) -> dict:
    """Tokens the LM reads in one pass, the classifiers' training tokens (cut to max_length) and the evaluated ones;
    each text tokenised once (the training texts count for the LM and for the classifiers)."""
    lengths = lambda texts: [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
    train = lengths(dsd["train"]["text"])
    room = None if data.max_lm_documents is None else max(0, data.max_lm_documents - len(train))
    unlabelled = (lengths(dsd["unsupervised"]["text"][:room]) if data.lm_unlabeled and "unsupervised" in dsd
                  else [])
    lm = (train + unlabelled)[: data.max_lm_documents or None]
    cut = [min(n, data.max_length or n) for n in train]
    evaluated = sum(sum(lengths(dsd[s]["text"])) for s in ("validation", "test") if s in dsd)
    return {"lm_tokens": sum(lm), "train_rows": len(cut), "train_tokens": sum(cut),
            "mean_train_length": max(1, round(sum(cut) / max(1, len(cut)))), "evaluated_tokens": evaluated}


def measure_speed(tokenizer, dsd, data: DataArguments, model_args: ModelArguments, lm_batch: int, cls_batch: int,
                  length: int) -> dict:
    """Seconds per LM training step and training tokens per second of the classifier, timed on this machine."""
    from ... import RNNForCausalLM, RNNForSequenceClassification

    torch.manual_seed(0)
    if model_args.lm_init_from:
        lm = RNNForCausalLM.from_pretrained(model_args.lm_init_from)
        lm.resize_token_embeddings(len(tokenizer))
    else:
        lm = RNNForCausalLM(new_model_config(tokenizer, model_args))
    ids = torch.randint(5, len(tokenizer), (lm_batch, data.block_size))
    lm_step = timed_steps(lm, dict(input_ids=ids, labels=ids))
    head = classifier_head("label", dsd["train"].features["label"])
    classifier = RNNForSequenceClassification(type(lm.config)(**{**lm.config.to_dict(), **head}))
    ids = torch.randint(5, len(tokenizer), (cls_batch, length))
    labels = probe_labels(head, cls_batch)
    cls_step = timed_steps(classifier, dict(input_ids=ids, labels=labels))
    return {"lm_step_s": lm_step, "classifier_tokens_per_s": cls_batch * length / cls_step}


def probe_labels(head: dict, batch: int) -> torch.Tensor:
    if head["problem_type"] == "regression":
        return torch.randn(batch)
    if head["problem_type"] == "multi_label_classification":
        return torch.randint(0, 2, (batch, head["num_labels"])).float()
    return torch.randint(0, head["num_labels"], (batch,))


def timed_steps(model, batch: dict) -> float:
    """Median seconds of a training step (forward, backward, AdamW) after one warm-up step."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for _ in range(PROBE_STEPS + 1):
        start = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2]


def make_plan(seconds: float, counts: dict, speed: dict, block_size: int, lm_batch: int, cls_batch: int,
              backward: bool = True, adversarial: bool = True) -> dict:
    """LM steps, classifier epochs and the switches that fit `seconds`: the richest option first (both directions,
    adversarial classifiers), then simpler ones, until the classifiers get their wanted epochs and the LM a pass
    over its text; the simplest option is the plan when nothing richer fits."""
    options = [(directions, adv) for directions in ((2, 1) if backward else (1,))
               for adv in ((True, False) if adversarial else (False,))]
    for directions, adv in options:
        plan = plan_for(seconds, counts, speed, block_size, lm_batch, cls_batch, directions, 2.0 if adv else 1.0)
        plan["adversarial"] = adv
        if plan["classifier_epochs"] >= plan["wanted_epochs"] and plan["lm_steps"] >= plan["lm_steps_per_epoch"]:
            return plan
    return plan


def plan_for(seconds, counts, speed, block_size, lm_batch, cls_batch, directions, adversarial_factor) -> dict:
    """One direction count's plan: the LM's time first (capped by its text), the classifiers' from the rest."""
    lm_steps_per_epoch = max(1, math.ceil(counts["lm_tokens"] / (block_size * lm_batch)))
    lm_time = min(seconds * LM_SHARE / directions, MAX_LM_EPOCHS * lm_steps_per_epoch * speed["lm_step_s"])
    lm_steps = max(1, int(lm_time / speed["lm_step_s"]))
    evaluation = counts["evaluated_tokens"] / (speed["classifier_tokens_per_s"] * INFERENCE_SPEEDUP)
    overhead = 2 * directions * STAGE_OVERHEAD_S
    per_classifier = (seconds - overhead - directions * lm_steps * speed["lm_step_s"]) / directions - evaluation
    epoch_s = adversarial_factor * counts["train_tokens"] / speed["classifier_tokens_per_s"]
    steps_per_epoch = max(1, math.ceil(counts["train_rows"] / cls_batch))
    wanted = min(MAX_CLASSIFIER_EPOCHS, max(2, math.ceil(TARGET_CLASSIFIER_STEPS / steps_per_epoch)))
    epochs = max(0.5, min(float(wanted), round(per_classifier / epoch_s, 1)))
    planned = {"tokenizer": 0.0, "lm": lm_steps * speed["lm_step_s"] + STAGE_OVERHEAD_S,
               "sentiment": epochs * epoch_s + evaluation + STAGE_OVERHEAD_S}
    if directions == 2:
        planned.update(lm_backward=planned["lm"], sentiment_backward=planned["sentiment"])
    limits = {"lm": LIMIT_SLACK * lm_steps * speed["lm_step_s"] + LIMIT_FLOOR_S,
              "classifier": LIMIT_SLACK * epochs * epoch_s + LIMIT_FLOOR_S}
    return {"backward": directions == 2, "lm_steps": lm_steps, "lm_steps_per_epoch": lm_steps_per_epoch,
            "classifier_epochs": epochs, "wanted_epochs": wanted, "classifier_steps_per_epoch": steps_per_epoch, "planned_s": planned,
            "limits_s": limits}


def resized_preset(preset: dict, plan: dict, user_sized: bool) -> dict:
    """The preset with the plan's LM steps and classifier epochs (a user's own --max_steps/--num_train_epochs win)."""
    if user_sized:
        logger.warning("--max_steps/--num_train_epochs given: they size every stage, not the time budget's plan.")
    lm = {**preset["lm_training"], "max_steps": plan["lm_steps"]}
    lm["save_steps"] = max(1, min(lm.get("save_steps", 200), plan["lm_steps"]))
    classifier = {**preset["classifier_training"], "num_train_epochs": plan["classifier_epochs"]}
    classifier.pop("max_steps", None)
    return {**preset, "lm_training": lm, "classifier_training": classifier}


def save_plan(output_dir: Path, plan: dict):
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / PLAN_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(plan, indent=2))
    os.replace(tmp, path)


def print_plan(plan: dict):
    speed = plan["speed"]
    print(f"Time budget {plan['budget_s'] / 60:.1f} min: measured LM {speed['lm_step_s']:.3f} s/step, classifier "
          f"{speed['classifier_tokens_per_s']:,.0f} training tokens/s. Plan: LM {plan['lm_steps']} steps "
          f"({plan['lm_steps'] / plan['lm_steps_per_epoch']:.1f} passes over {plan['counts']['lm_tokens']:,} tokens), "
          f"classifier {plan['classifier_epochs']} epochs over {plan['counts']['train_rows']:,} rows, "
          f"{'both directions' if plan['backward'] else 'forward only'}"
          f"{', adversarial classifiers' if plan['adversarial'] else ''}.")
    for stage, seconds in plan["planned_s"].items():
        print(f"  planned {stage:<20} {seconds / 60:6.1f} min")


def report_budget(output_dir: Path, results: dict) -> dict:
    """Planned vs actual seconds per stage, printed and saved into budget.json; says when the job overran."""
    plan = json.loads((output_dir / PLAN_FILE).read_text())
    actual = {stage: seconds for stage, seconds in (results.get("stage_seconds") or {}).items() if seconds}
    total = results["wall_time_s"] + plan["planning_s"]
    overrun = total > 1.1 * plan["budget_s"]
    print(f"Budget {plan['budget_s'] / 60:.1f} min, used {total / 60:.1f} min"
          + (" -- OVER the budget by more than 10%: a planner bug, please report it." if overrun else "."))
    for stage in dict.fromkeys([*plan["planned_s"], *actual]):
        planned, spent = plan["planned_s"].get(stage), actual.get(stage)
        print(f"  {stage:<20} planned {planned / 60 if planned is not None else float('nan'):6.1f} min, "
              f"actual {spent / 60 if spent is not None else float('nan'):6.1f} min")
    plan.update(actual_s=actual, used_s=total, overrun=overrun)
    save_plan(output_dir, plan)
    return plan
