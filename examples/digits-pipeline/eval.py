#!/usr/bin/env python3
"""Evaluate a digits checkpoint on the held-out test split that training never saw.

Second stage of the digits pipeline: train.py --test-fraction F --output DIR holds out a fixed
test split (its own seed, independent of --seed) and writes DIR/model.npz; this job rebuilds the
MLP from it, standardises the test images with the training statistics stored in it, and prints,
Hugging Face Trainer-style, one Python dict line on stdout:

    {'test_loss': 0.12, 'test_accuracy': 0.97, 'worst_class_accuracy': 0.91, 'worst_class': 8, 'test_samples': 359}

worst_class_accuracy is the lowest per-class accuracy (recall) over the classes in the split: a
guardrail that an average can hide. A per-class table goes to stderr, and a JSON line
{"intern_output": {...}} hands test_accuracy and worst_class_accuracy to the next stage.

Exit codes: 0 done, 2 bad arguments or a missing, unreadable or mismatched checkpoint.
"""

import argparse
import json
import math
import sys

import numpy as np

from common import fail, load_checkpoint, train

DEFAULT_TEST_FRACTION = 0.2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="model.npz written by train.py --output")
    p.add_argument("--test-fraction", type=float, metavar="F",
                   help="the held-out fraction training used (default: the one stored in the "
                        f"checkpoint, else {DEFAULT_TEST_FRACTION})")
    args = p.parse_args(argv)
    if args.test_fraction is not None and not 0.0 < args.test_fraction <= 0.5:
        p.error("--test-fraction must be above 0 and at most 0.5")
    return args


def main(argv=None):
    args = parse_args(argv)
    model, mean, std, trained_fraction = load_checkpoint(args.checkpoint)
    fraction = args.test_fraction
    if trained_fraction is not None:
        if trained_fraction <= 0:
            fail(f"{args.checkpoint} was trained without a held-out split (no --test-fraction): "
                 "there is no test data it has not seen.")
        if fraction is not None and fraction != trained_fraction:
            fail(f"--test-fraction {fraction} differs from the {trained_fraction} the checkpoint was "
                 "trained with: that split would overlap its training data.")
        fraction = trained_fraction
    elif fraction is None:
        fraction = DEFAULT_TEST_FRACTION

    x, y = train.load_raw()
    if model.w1.shape[0] != x.shape[1] or model.w2.shape[1] != 10:
        fail(f"{args.checkpoint} is a {model.w1.shape[0]} -> {model.w2.shape[1]} model, "
             f"not {x.shape[1]} -> 10 as the digits need.")
    test, _ = train.test_split(len(x), fraction)
    x_test, y_test = (x[test] - mean) / std, y[test]

    with np.errstate(all="ignore"):
        _, _, logits = model.forward(x_test)
        logp = model.log_softmax(logits)
    loss = float(-logp[np.arange(len(x_test)), y_test].mean())
    predicted = logits.argmax(axis=1)
    accuracy = float((predicted == y_test).mean())

    per_class = {}  # class -> (correct, total); classes absent from the split are skipped
    for c in range(logits.shape[1]):
        mask = y_test == c
        if mask.any():
            per_class[c] = (int((predicted[mask] == c).sum()), int(mask.sum()))
    worst = min(per_class, key=lambda c: per_class[c][0] / per_class[c][1])
    worst_accuracy = per_class[worst][0] / per_class[worst][1]

    print("class  correct/total  accuracy", file=sys.stderr)
    for c, (correct, total) in per_class.items():
        mark = "  <- worst" if c == worst else ""
        print(f"{c:5d}  {correct:7d}/{total:<5d}  {correct / total:8.4f}{mark}", file=sys.stderr)
    sys.stderr.flush()

    print({
        "test_loss": round(loss, 4),
        "test_accuracy": round(accuracy, 4),
        "worst_class_accuracy": round(worst_accuracy, 4),
        "worst_class": worst,
        "test_samples": len(x_test),
    }, flush=True)
    print(json.dumps({"intern_output": {"test_accuracy": round(accuracy, 4),
                                        "worst_class_accuracy": round(worst_accuracy, 4)}}), flush=True)
    print_results_table(accuracy, per_class, len(x_test))


def print_results_table(accuracy, per_class, n):
    """The results again, as EleutherAI's lm-evaluation-harness prints them: one task per digit
    class plus the whole split, accuracy with its binomial standard error (intern reads such a
    table as metrics named task/filter/metric: digit_8/none/acc, digit_8/none/acc_stderr)."""
    def stderr(p, count):
        return math.sqrt(p * (1 - p) / (count - 1)) if count > 1 else float("nan")

    rows = [("digits", 1, "none", 0, "acc", accuracy, stderr(accuracy, n))]
    for c, (correct, total) in per_class.items():
        p = correct / total
        rows.append((f" - digit_{c}", 1, "none", 0, "acc", p, stderr(p, total)))
    print()
    print("|   Tasks   |Version|Filter|n-shot|Metric|   |Value |   |Stderr|")
    print("|-----------|------:|------|-----:|------|---|-----:|---|-----:|")
    for task, version, filt, shots, metric, value, err in rows:
        err_text = "   N/A" if math.isnan(err) else f"{err:.4f}"
        print(f"|{task:<11}|{version:>7}|{filt:<6}|{shots:>6}|{metric:<6}|↑  |{value:.4f}|±  |{err_text}|")
    print(flush=True)


if __name__ == "__main__":
    main()
