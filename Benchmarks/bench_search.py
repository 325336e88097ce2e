#!/usr/bin/env python3
"""Search quality: intern's samplers against Optuna's on the same functions and budgets.

Each function is searched 50 trials in sequence (one trial at a time), for 30 seeds, by:

- intern tpe (the default: multivariate), intern tpe with multivariate: false, intern gp, intern random;
- Optuna's TPESampler with its defaults (multivariate in Optuna 5 for one objective), the same with
  multivariate=False, and Optuna's GPSampler (when torch and scipy install).

intern's samplers run in `intern sampler-bench` (hidden), which asks for each trial's parameters and
is told the result over a pipe, so the sampler sees the history a campaign run one trial at a time
would give it, without the processes and sockets of a campaign. Optuna runs in this interpreter's
venv (.build/bench-venv, made on first use: python3 -m venv, pip install optuna, scipy, torch and
scikit-learn; torch from /opt/wheels when a CPU wheel is there).

The functions, all minimised (the table shows the best value found after 10, 25 and 50 trials):

- Branin (2-D, x1 in [-5, 10], x2 in [0, 15]; optimum 0.397887).
- Hartmann-6 (6-D unit cube; optimum -3.32237).
- finetune: a deterministic synthetic eval loss shaped like a fine-tuning sweep, optimum 0.350:
  learning_rate loguniform [1e-5, 1e-2], warmup_steps int [0, 500], batch_size choice
  {8, 16, 32, 64, 128}, weight_decay uniform [0, 0.3]. With b = log2(batch_size / 32) the best
  learning rate is 3e-4 * 2^(b/2) (square-root scaling); the loss is
  0.350 + base[bs] + width[bs] * d^2 + 0.006 * ((warmup - 150) / 150)^2
        + 0.03 * max(0, d + 0.5) * exp(-warmup / 50) + 0.004 * ((weight_decay - 0.05) / 0.1)^2
  with d = log10(learning_rate / best learning rate), base = {8: .012, 16: .004, 32: 0, 64: .003,
  128: .007} and width = {8: .08, 16: .06, 32: .05, 64: .025, 128: .015}: batch size 128 is
  forgiving (a wide learning-rate basin, easy to hit at random) but 32 is best once its narrower
  basin is found, the trap that locks a sampler onto the batch size of its best random trial.
- digits (with --digits): the example's real job (examples/digits-sweep/train.py, a numpy MLP on
  scikit-learn's digits), validation error = 1 - accuracy, training seed fixed so a configuration
  always scores the same; fewer seeds (--digits-seeds, default 10), as each trial trains a network.

Optuna's GPSampler runs on fewer seeds (--gp-seeds, default 10): a run takes it up to a minute.

Statistics: mean and standard deviation over seeds of the best value after 10, 25 and 50 trials;
the mean rank of each sampler run on every seed at 50 trials (1 = best; ranked per seed, ties
averaged); and a
two-sided permutation test (20,000 relabelings of the 2 x seeds values) of the difference in mean
best-at-50 between intern's default and Optuna's default TPE. The table goes to
Benchmarks/README.md between the bench-search markers, the raw results to --out.

    python3 Benchmarks/bench_search.py --intern .build/release/intern [--seeds 30] [--digits]
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHECKPOINTS = (10, 25, 50)


# ---------------------------------------------------------------- functions

def branin(p):
    x1, x2 = p["x1"], p["x2"]
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1 ** 2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HARTMANN_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
              [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(p):
    x = [p["x%d" % i] for i in range(6)]
    total = 0.0
    for i in range(4):
        inner = sum(HARTMANN_A[i][j] * (x[j] - HARTMANN_P[i][j] * 1e-4) ** 2 for j in range(6))
        total -= HARTMANN_ALPHA[i] * math.exp(-inner)
    return total


FT_BASE = {8: 0.012, 16: 0.004, 32: 0.0, 64: 0.003, 128: 0.007}
FT_WIDTH = {8: 0.08, 16: 0.06, 32: 0.05, 64: 0.025, 128: 0.015}


def finetune(p):
    bs = int(p["batch_size"])
    best_lr = 3e-4 * 2 ** (0.5 * math.log2(bs / 32))
    d = math.log10(p["learning_rate"] / best_lr)
    warmup = p["warmup_steps"]
    return (0.350 + FT_BASE[bs] + FT_WIDTH[bs] * d * d + 0.006 * ((warmup - 150) / 150) ** 2
            + 0.03 * max(0.0, d + 0.5) * math.exp(-warmup / 50) + 0.004 * ((p["weight_decay"] - 0.05) / 0.1) ** 2)


_DIGITS = None


def digits(p):
    """The digits example's training job, in process: validation error after training."""
    global _DIGITS
    import numpy as np
    if _DIGITS is None:
        sys.path.insert(0, os.path.join(ROOT, "examples", "digits-sweep"))
        import train  # noqa: E402 (the example's module; importing it has no side effects)
        _DIGITS = (train, train.load_data(0.0))
    train, (x_train, y_train, x_val, y_val, _, _) = _DIGITS
    rng = np.random.default_rng(0)
    model = train.MLP(x_train.shape[1], int(p["hidden_size"]), 10, rng)
    n, batch = len(x_train), 32
    with np.errstate(all="ignore"):
        for _ in range(int(p["epochs"])):
            order = rng.permutation(n)
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                loss, grads = model.loss_and_grads(x_train[idx], y_train[idx])
                if not math.isfinite(loss):
                    return 1.0
                model.sgd_step(grads, p["learning_rate"], p["weight_decay"])
        _, accuracy = model.evaluate(x_val, y_val)
    return 1.0 - accuracy if math.isfinite(accuracy) else 1.0


def uniform(name, low, high):
    return {"name": name, "domain": {"type": "uniform", "low": low, "high": high}}


def loguniform(name, low, high):
    return {"name": name, "domain": {"type": "loguniform", "low": low, "high": high}}


def integer(name, low, high):
    return {"name": name, "domain": {"type": "int", "low": low, "high": high, "step": 1, "log": False}}


def choice(name, values):
    return {"name": name, "domain": {"type": "choice", "values": values}}


FUNCTIONS = {
    "branin": dict(label="Branin", optimum=0.397887, fn=branin,
                   space=[uniform("x1", -5.0, 10.0), uniform("x2", 0.0, 15.0)]),
    "hartmann6": dict(label="Hartmann-6", optimum=-3.32237, fn=hartmann6,
                      space=[uniform("x%d" % i, 0.0, 1.0) for i in range(6)]),
    "finetune": dict(label="fine-tune space", optimum=0.350, fn=finetune,
                     space=[loguniform("learning_rate", 1e-5, 1e-2), integer("warmup_steps", 0, 500),
                            choice("batch_size", [8, 16, 32, 64, 128]), uniform("weight_decay", 0.0, 0.3)]),
    "digits": dict(label="digits (validation error)", optimum=None, fn=digits,
                   space=[loguniform("learning_rate", 0.001, 0.5), choice("hidden_size", [16, 32, 64, 128]),
                          loguniform("weight_decay", 1e-6, 1e-2), integer("epochs", 5, 20)]),
}

SAMPLERS = {
    "intern-tpe": ("intern tpe (default)", {"type": "tpe"}),
    "intern-tpe-independent": ("intern tpe, multivariate: false", {"type": "tpe", "multivariate": False}),
    "intern-gp": ("intern gp", {"type": "gp"}),
    "intern-random": ("intern random", {"type": "random"}),
    "optuna-tpe": ("Optuna TPE (default)", None),
    "optuna-tpe-independent": ("Optuna TPE, multivariate=False", None),
    "optuna-gp": ("Optuna GP", None),
}
BASELINE, CHALLENGER = "optuna-tpe", "intern-tpe"


# ---------------------------------------------------------------- runs

def run_intern(intern, function, sampler, seed, trials):
    spec = dict(SAMPLERS[sampler][1], seed=seed)
    f = FUNCTIONS[function]
    proc = subprocess.Popen(
        [intern, "sampler-bench", "--space", json.dumps(f["space"]), "--sampler", json.dumps(spec), "--trials", str(trials)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    values = []
    for _ in range(trials):
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("intern sampler-bench stopped after %d trials" % len(values))
        value = f["fn"](json.loads(line))
        values.append(value)
        proc.stdin.write(json.dumps({"value": value}) + "\n")
        proc.stdin.flush()
    proc.stdin.close()
    proc.wait()
    return values


def run_optuna(function, sampler, seed, trials):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    import warnings
    warnings.filterwarnings("ignore")
    f = FUNCTIONS[function]
    if sampler == "optuna-tpe":
        s = optuna.samplers.TPESampler(seed=seed)
    elif sampler == "optuna-tpe-independent":
        s = optuna.samplers.TPESampler(seed=seed, multivariate=False)
    else:
        s = optuna.samplers.GPSampler(seed=seed)

    def objective(trial):
        p = {}
        for param in f["space"]:
            d, name = param["domain"], param["name"]
            if d["type"] == "uniform":
                p[name] = trial.suggest_float(name, d["low"], d["high"])
            elif d["type"] == "loguniform":
                p[name] = trial.suggest_float(name, d["low"], d["high"], log=True)
            elif d["type"] == "int":
                p[name] = trial.suggest_int(name, d["low"], d["high"])
            else:
                p[name] = trial.suggest_categorical(name, d["values"])
        return f["fn"](p)

    study = optuna.create_study(sampler=s, direction="minimize")
    study.optimize(objective, n_trials=trials)
    return [t.value for t in study.trials]


def run_one(task):
    intern, function, sampler, seed, trials = task
    start = time.perf_counter()
    if sampler.startswith("intern"):
        values = run_intern(intern, function, sampler, seed, trials)
    else:
        values = run_optuna(function, sampler, seed, trials)
    return task[1:4], values, time.perf_counter() - start


# ---------------------------------------------------------------- statistics

def best_after(values, n):
    return min(values[:n])


def mean_sd(xs):
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def permutation_p(a, b, rounds=20000, seed=12345):
    """Two-sided permutation test of the difference in means of a and b."""
    rng = random.Random(seed)
    observed = abs(sum(a) / len(a) - sum(b) / len(b))
    pooled = list(a) + list(b)
    hits = 0
    for _ in range(rounds):
        rng.shuffle(pooled)
        x, y = pooled[:len(a)], pooled[len(a):]
        if abs(sum(x) / len(x) - sum(y) / len(y)) >= observed - 1e-15:
            hits += 1
    return (hits + 1) / (rounds + 1)


def mean_ranks(results, samplers, seeds):
    """Mean rank at 50 trials of each sampler run on every seed (a sampler run on fewer is left out)."""
    samplers = [s for s in samplers if all(seed in results[s] for seed in seeds)]
    totals = {s: 0.0 for s in samplers}
    for seed in seeds:
        scores = sorted((best_after(results[s][seed], 50), s) for s in samplers)
        i = 0
        while i < len(scores):
            j = i
            while j + 1 < len(scores) and scores[j + 1][0] == scores[i][0]:
                j += 1
            for k in range(i, j + 1):
                totals[scores[k][1]] += (i + j) / 2 + 1
            i = j + 1
    return {s: totals[s] / len(seeds) for s in samplers}


def fmt(x):
    return "%.3f" % x if abs(x) >= 10 else "%.4f" % x


def table(results, functions, samplers, seeds_by_function):
    lines = ["| function (optimum) | sampler | best after 10 | after 25 | after 50 | mean rank | p vs Optuna TPE (50) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    verdicts = []
    for function in functions:
        f = FUNCTIONS[function]
        seeds = seeds_by_function[function]
        present = [s for s in samplers if s in results[function]]
        ranks = mean_ranks(results[function], present, seeds)
        base = [best_after(results[function][BASELINE][seed], 50) for seed in seeds] if BASELINE in present else None
        label = f["label"] + (" (%s)" % f["optimum"] if f["optimum"] is not None else "")
        for s in present:
            cells = []
            own = sorted(results[function][s])
            for n in CHECKPOINTS:
                m, sd = mean_sd([best_after(results[function][s][seed], n) for seed in own])
                cells.append("%s ± %s" % (fmt(m), fmt(sd)))
            p = ""
            if base is not None and s != BASELINE:
                ours = [best_after(results[function][s][seed], 50) for seed in own]
                pv = permutation_p(ours, base)
                sign = "better" if sum(ours) / len(ours) < sum(base) / len(base) else "worse"
                p = "%s (%s)" % ("< 0.001" if pv < 0.001 else "%.3f" % pv, sign)
                if s == CHALLENGER:
                    verdicts.append((function, pv, sign))
            name = SAMPLERS[s][0]
            if s == CHALLENGER:
                name = "**%s**" % name
            if len(own) < len(seeds):
                name += " (%d seeds)" % len(own)
            rank = "%.2f" % ranks[s] if s in ranks else "–"
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (label, name, cells[0], cells[1], cells[2], rank, p))
            label = ""
    return "\n".join(lines), verdicts


# ---------------------------------------------------------------- venv

def optuna_python(venv):
    """The venv's interpreter, made with Optuna (and GP's and digits' packages) when missing."""
    python = os.path.join(venv, "bin", "python")
    probe = "import optuna, numpy"
    if os.path.exists(python) and subprocess.run([python, "-c", probe], capture_output=True).returncode == 0:
        return python
    print("bench-search: making %s (python3 -m venv, pip install optuna)" % venv, file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "optuna>=5,<6", "numpy"], check=True)
    return python


def ensure_optional(python, digits):
    """Installs GPSampler's packages (torch from a CPU wheel in /opt/wheels when there is one)
    and, for --digits, scikit-learn; a failure only drops those rows."""
    wanted = [("scipy", "scipy"), ("torch", None)] + ([("sklearn", "scikit-learn")] if digits else [])
    for module, package in wanted:
        if subprocess.run([python, "-c", "import " + module], capture_output=True).returncode == 0:
            continue
        if package is None:
            wheels = [os.path.join("/opt/wheels", w) for w in sorted(os.listdir("/opt/wheels"))
                      if w.startswith("torch-")] if os.path.isdir("/opt/wheels") else []
            package = wheels[0] if wheels else "torch"
        subprocess.run([python, "-m", "pip", "install", "-q", package])


# ---------------------------------------------------------------- main

def write_readme(path, text):
    begin, end = "<!-- bench-search:begin -->", "<!-- bench-search:end -->"
    with open(path) as f:
        readme = f.read()
    block = begin + "\n" + text + "\n" + end
    if begin in readme and end in readme:
        readme = readme[:readme.index(begin)] + block + readme[readme.index(end) + len(end):]
    else:
        readme = readme.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(readme)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--intern", default=os.path.join(ROOT, ".build", "release", "intern"))
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--functions", default="branin,hartmann6,finetune")
    ap.add_argument("--samplers", default=",".join(SAMPLERS))
    ap.add_argument("--digits", action="store_true", help="also the digits example's real objective")
    ap.add_argument("--digits-seeds", type=int, default=10)
    ap.add_argument("--gp-seeds", type=int, default=10,
                    help="seeds for Optuna's GPSampler, by far the slowest (up to a minute a run); its rank is left out when fewer")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--venv", default=os.path.join(ROOT, ".build", "bench-venv"))
    ap.add_argument("--out", default=os.path.join(ROOT, ".build", "bench-search.json"))
    ap.add_argument("--readme", default=os.path.join(HERE, "README.md"), help="where the table goes ('' for nowhere)")
    ap.add_argument("--table-from", metavar="JSON", help="only print (and write) the table of an earlier run's --out")
    ap.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.table_from:
        with open(args.table_from) as f:
            saved = json.load(f)
        results = {fn: {s: {int(seed): v for seed, v in runs.items()} for s, runs in by.items()} for fn, by in saved["results"].items()}
        functions = list(results)
        samplers = [s for s in SAMPLERS if any(s in results[fn] for fn in functions)]
        seeds_by_function = {fn: sorted(set().union(*[set(r) for r in results[fn].values()])) for fn in functions}
        text, verdicts = table(results, functions, samplers, seeds_by_function)
        header = saved.get("header", "")
        print(header + "\n\n" + text)
        if args.readme:
            write_readme(args.readme, header + "\n\n" + text)
        return

    if not args.in_venv:
        # Optuna lives in the venv: run this script again with its interpreter.
        python = optuna_python(args.venv)
        ensure_optional(python, args.digits)
        os.execv(python, [python, os.path.abspath(__file__), "--in-venv"] + sys.argv[1:])

    functions = [f for f in args.functions.split(",") if f] + (["digits"] if args.digits else [])
    samplers = args.samplers.split(",")
    if "optuna-gp" in samplers:
        try:
            import torch, scipy  # noqa: F401
        except ImportError:
            print("bench-search: no torch/scipy in the venv, Optuna GP left out", file=sys.stderr)
            samplers.remove("optuna-gp")
    seeds_by_function = {f: list(range(1, (args.digits_seeds if f == "digits" else args.seeds) + 1)) for f in functions}
    tasks = [(os.path.abspath(args.intern), f, s, seed, args.trials)
             for f in functions for s in samplers for seed in seeds_by_function[f]
             if s != "optuna-gp" or seed <= args.gp_seeds]
    results = {f: {s: {} for s in samplers} for f in functions}
    seconds = {f: {s: 0.0 for s in samplers} for f in functions}
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for done, ((f, s, seed), values, elapsed) in enumerate(pool.map(run_one, tasks, chunksize=1), 1):
            results[f][s][seed] = values
            seconds[f][s] += elapsed
            if done % 50 == 0 or done == len(tasks):
                print("bench-search: %d/%d runs, %.0f s" % (done, len(tasks), time.perf_counter() - start), file=sys.stderr)

    text, verdicts = table(results, functions, samplers, seeds_by_function)
    import optuna
    seeds_note = "%d seeds" % args.seeds
    if "optuna-gp" in samplers and args.gp_seeds < args.seeds:
        seeds_note += " (Optuna GP: %d)" % args.gp_seeds
    if args.digits:
        seeds_note += " (digits: %d)" % args.digits_seeds
    header = ("%d trials in sequence, %s; mean ± sd of the best value found (lower is better); "
              "mean rank at %d trials among the samplers run on every seed; two-sided permutation test against "
              "Optuna %s's default TPE at %d trials. `make bench-search` (%.0f s on 2 busy cores)."
              % (args.trials, seeds_note, args.trials, optuna.__version__, args.trials, time.perf_counter() - start))
    print(header + "\n\n" + text)
    for function, p, sign in verdicts:
        print("%s: intern tpe vs Optuna TPE at %d trials: %s, p = %.3f" % (function, args.trials, sign, p))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"trials": args.trials, "results": results, "seconds": seconds,
                   "verdicts": verdicts, "optuna": optuna.__version__, "header": header}, f)
    if args.readme:
        write_readme(args.readme, header + "\n\n" + text)


if __name__ == "__main__":
    main()
