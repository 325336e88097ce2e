#!/usr/bin/env python3
"""Train a one-hidden-layer MLP on scikit-learn's digits data set, written in plain numpy.

A small but real training job for intern's examples: the learning rate, the hidden size and
the weight decay all change the result. It logs the way the Hugging Face Trainer does:
Python dict lines on stdout, a tqdm-style progress bar on stderr.

With --test-fraction F, a fixed test split (fraction F of the whole data set, drawn with its own
seed) is held out before the train/validation split; training and validation never see it, and
examples/digits-pipeline/eval.py evaluates checkpoints on it. Importing this module has no side
effects: eval.py reuses test_split() and MLP from it.

Exit codes: 0 done, 2 bad arguments, 3 diverged (the loss became NaN or infinite).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
from sklearn.datasets import load_digits

SPLIT_SEED = 1234  # the train/validation split is the same for every trial
TEST_SEED = 4321  # the held-out test split (--test-fraction) is the same for every trial and every seed
VALIDATION_FRACTION = 0.2
LOGS_PER_EPOCH = 4
BAR_INTERVAL_S = 0.1  # like tqdm's mininterval


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lr", type=float, required=True, help="SGD learning rate")
    p.add_argument("--hidden", type=int, required=True, help="hidden layer width")
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay (not on biases)")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    p.add_argument("--output", metavar="DIR", help="write model.npz and metrics.json here")
    p.add_argument("--test-fraction", type=float, default=0.0, metavar="F",
                   help="hold out this fraction of the data as a fixed test split (default 0: none)")
    args = p.parse_args(argv)
    if not (args.lr > 0 and math.isfinite(args.lr)):
        p.error("--lr must be a positive number")
    if args.hidden < 1 or args.epochs < 1 or args.batch_size < 1:
        p.error("--hidden, --epochs and --batch-size must be at least 1")
    if not (args.weight_decay >= 0 and math.isfinite(args.weight_decay)):
        p.error("--weight-decay must not be negative")
    if not 0.0 <= args.test_fraction <= 0.5:
        p.error("--test-fraction must be between 0 and 0.5")
    return args


def load_raw():
    """All 1,797 images as (x, y), pixels scaled to 0..1, not standardised."""
    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0  # pixels are 0..16
    y = digits.target.astype(np.int64)
    return x, y


def test_split(n, test_fraction):
    """Indices (test, rest) of a fixed held-out test split: the same for a given n and fraction."""
    if test_fraction <= 0:
        return np.arange(0), np.arange(n)
    order = np.random.default_rng(TEST_SEED).permutation(n)
    n_test = int(round(n * test_fraction))
    return np.sort(order[:n_test]), np.sort(order[n_test:])


def load_data(test_fraction=0.0):
    """(x_train, y_train, x_val, y_val, mean, std), standardised with the training statistics.

    The held-out test split is removed first; with test_fraction 0 the split is the original one.
    """
    x, y = load_raw()
    _, rest = test_split(len(x), test_fraction)
    order = rest[np.random.default_rng(SPLIT_SEED).permutation(len(rest))]
    n_val = int(round(len(rest) * VALIDATION_FRACTION))
    val, train = order[:n_val], order[n_val:]
    # Standardise with the training statistics only.
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0) + 1e-6
    x = (x - mean) / std
    return x[train], y[train], x[val], y[val], mean, std


class MLP:
    """64 -> hidden (ReLU) -> 10, softmax cross-entropy."""

    def __init__(self, n_in, n_hidden, n_out, rng):
        self.w1 = rng.normal(0.0, math.sqrt(2.0 / n_in), size=(n_in, n_hidden))  # He init
        self.b1 = np.zeros(n_hidden)
        self.w2 = rng.normal(0.0, math.sqrt(1.0 / n_hidden), size=(n_hidden, n_out))
        self.b2 = np.zeros(n_out)

    @classmethod
    def from_weights(cls, w1, b1, w2, b2):
        """A model with the given weights (e.g. from model.npz); the sizes follow from the shapes."""
        model = cls.__new__(cls)
        model.w1, model.b1, model.w2, model.b2 = w1, b1, w2, b2
        return model

    def forward(self, x):
        h_pre = x @ self.w1 + self.b1
        h = np.maximum(h_pre, 0.0)
        logits = h @ self.w2 + self.b2
        return h_pre, h, logits

    @staticmethod
    def log_softmax(logits):
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def loss_and_grads(self, x, y):
        h_pre, h, logits = self.forward(x)
        logp = self.log_softmax(logits)
        n = len(x)
        loss = float(-logp[np.arange(n), y].mean())  # a Python float prints as 0.5, not np.float64(0.5)
        d_logits = np.exp(logp)
        d_logits[np.arange(n), y] -= 1.0
        d_logits /= n
        grads = {
            "w2": h.T @ d_logits,
            "b2": d_logits.sum(axis=0),
        }
        d_h = (d_logits @ self.w2.T) * (h_pre > 0)
        grads["w1"] = x.T @ d_h
        grads["b1"] = d_h.sum(axis=0)
        return loss, grads

    def sgd_step(self, grads, lr, weight_decay):
        # Plain SGD; weight decay is an L2 penalty on the weight matrices only.
        self.w1 -= lr * (grads["w1"] + weight_decay * self.w1)
        self.b1 -= lr * grads["b1"]
        self.w2 -= lr * (grads["w2"] + weight_decay * self.w2)
        self.b2 -= lr * grads["b2"]

    def evaluate(self, x, y):
        _, _, logits = self.forward(x)
        logp = self.log_softmax(logits)
        loss = -logp[np.arange(len(x)), y].mean()
        accuracy = (logits.argmax(axis=1) == y).mean()
        return float(loss), float(accuracy)


class ProgressBar:
    """A tqdm look-alike on stderr, redrawn with '\\r' at most every BAR_INTERVAL_S."""

    def __init__(self, total):
        self.total = total
        self.start = time.perf_counter()
        self.last_draw = -math.inf
        self.last_n = None

    @staticmethod
    def _clock(seconds):
        seconds = int(seconds)
        return f"{seconds // 60:02d}:{seconds % 60:02d}"

    def update(self, n, force=False):
        now = time.perf_counter()
        if not force and now - self.last_draw < BAR_INTERVAL_S and n < self.total:
            return
        self.last_draw = now
        self.last_n = n
        elapsed = now - self.start
        rate = n / elapsed if elapsed > 0 else 0.0
        remaining = (self.total - n) / rate if rate > 0 else 0.0
        frac = n / self.total
        width = 10
        full = int(frac * width)
        partial = " ▏▎▍▌▋▊▉"[int((frac * width - full) * 8)] if full < width else ""
        bar = ("█" * full + partial).ljust(width)
        sys.stderr.write(
            f"\r{int(frac * 100):3d}%|{bar}| {n}/{self.total} "
            f"[{self._clock(elapsed)}<{self._clock(remaining)}, {rate:.2f}it/s]"
        )

    def close(self, n=None):
        n = self.total if n is None else n
        if self.last_n != n:
            self.update(n, force=True)
        sys.stderr.write("\n")
        sys.stderr.flush()


def diverged(bar, step, epoch):
    print({"loss": float("nan"), "epoch": round(epoch, 2)}, flush=True)
    bar.close(step)
    print(f"Training diverged at step {step}: the loss is not finite.", file=sys.stderr, flush=True)
    sys.exit(3)


def main(argv=None):
    args = parse_args(argv)
    x_train, y_train, x_val, y_val, mean, std = load_data(args.test_fraction)
    rng = np.random.default_rng(args.seed)
    model = MLP(x_train.shape[1], args.hidden, 10, rng)

    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    log_every = max(1, steps_per_epoch // LOGS_PER_EPOCH)
    bar = ProgressBar(total_steps)
    start = time.perf_counter()
    step = 0
    loss_sum_since_log, steps_since_log, loss_sum_total = 0.0, 0, 0.0
    eval_loss = eval_accuracy = float("nan")

    with np.errstate(all="ignore"):  # overflow on divergence is reported, not warned about
        for epoch in range(args.epochs):
            order = rng.permutation(len(x_train))
            for b in range(steps_per_epoch):
                idx = order[b * args.batch_size:(b + 1) * args.batch_size]
                loss, grads = model.loss_and_grads(x_train[idx], y_train[idx])
                step += 1
                if not math.isfinite(loss):
                    diverged(bar, step, step / steps_per_epoch)
                model.sgd_step(grads, args.lr, args.weight_decay)
                loss_sum_since_log += loss
                loss_sum_total += loss
                steps_since_log += 1
                if step % log_every == 0:
                    grad_norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
                    print({
                        "loss": round(loss_sum_since_log / steps_since_log, 4),
                        "grad_norm": round(grad_norm, 4),
                        "learning_rate": args.lr,
                        "epoch": round(step / steps_per_epoch, 2),
                    })
                    loss_sum_since_log, steps_since_log = 0.0, 0
                bar.update(step)

            eval_start = time.perf_counter()
            eval_loss, eval_accuracy = model.evaluate(x_val, y_val)
            eval_runtime = time.perf_counter() - eval_start
            if not math.isfinite(eval_loss):
                diverged(bar, step, float(epoch + 1))
            bar.update(step, force=True)
            sys.stderr.flush()
            print({
                "eval_loss": round(eval_loss, 4),
                "eval_accuracy": round(eval_accuracy, 4),
                "eval_runtime": round(eval_runtime, 4),
                "eval_samples_per_second": round(len(x_val) / max(eval_runtime, 1e-9), 3),
                "epoch": float(epoch + 1),
                "step": epoch + 1,  # intern's step for this line's values: evals compare epoch by epoch
            }, flush=True)

    bar.close()
    runtime = time.perf_counter() - start
    train_loss = loss_sum_total / total_steps
    print({
        "train_runtime": round(runtime, 4),
        "train_samples_per_second": round(len(x_train) * args.epochs / runtime, 3),
        "train_steps_per_second": round(total_steps / runtime, 3),
        "train_loss": round(train_loss, 4),
        "epoch": float(args.epochs),
    }, flush=True)

    if args.output:
        os.makedirs(args.output, exist_ok=True)
        checkpoint = os.path.abspath(os.path.join(args.output, "model.npz"))
        # mean/std standardise new inputs as in training; test_fraction names the held-out split.
        np.savez(checkpoint, w1=model.w1, b1=model.b1, w2=model.w2, b2=model.b2,
                 mean=mean, std=std, test_fraction=np.float64(args.test_fraction))
        metrics = {
            "eval_loss": eval_loss, "eval_accuracy": eval_accuracy, "train_loss": train_loss,
            "train_runtime": runtime, "epochs": args.epochs, "steps": total_steps,
            "args": {k: v for k, v in vars(args).items() if k != "output"},
        }
        with open(os.path.join(args.output, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
            f.write("\n")
        # intern reads this line as the job's outputs and hands them to the next stage.
        print(json.dumps({"intern_output": {"checkpoint": checkpoint, "hidden": args.hidden}}), flush=True)


if __name__ == "__main__":
    main()
