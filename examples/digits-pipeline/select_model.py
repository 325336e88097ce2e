#!/usr/bin/env python3
"""Export the selected digits checkpoint: copy it to DIR/model.npz and record where it came from.

Last stage of the digits pipeline. It copies --checkpoint to DIR/model.npz, writes
DIR/selected.json with the source path, the copy's sha256 and the --summary KEY=VALUE pairs
(a value that parses as a finite number is stored as a float, anything else as a string), prints
a one-line summary, and a JSON line {"intern_output": {"model": "<absolute path of the copy>"}}.

Exit codes: 0 done, 2 bad arguments or a missing checkpoint.
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import sys


def parse_value(text):
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text  # JSON has no NaN or Infinity


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="the model.npz to export")
    p.add_argument("--out", required=True, metavar="DIR", help="where to write model.npz and selected.json")
    p.add_argument("--summary", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="facts to record with the model, e.g. test_accuracy=0.97 (repeatable)")
    args = p.parse_args(argv)
    summary = {}
    for pair in args.summary:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            p.error(f"--summary takes KEY=VALUE pairs, got {pair!r}")
        summary[key] = parse_value(value)
    args.summary = summary
    return args


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv=None):
    args = parse_args(argv)
    source = os.path.abspath(args.checkpoint)
    if not os.path.isfile(source):
        print(f"No checkpoint at {args.checkpoint}.", file=sys.stderr, flush=True)
        sys.exit(2)
    os.makedirs(args.out, exist_ok=True)
    model = os.path.abspath(os.path.join(args.out, "model.npz"))
    if not (os.path.exists(model) and os.path.samefile(source, model)):
        shutil.copyfile(source, model)
    digest = sha256(model)
    with open(os.path.join(args.out, "selected.json"), "w") as f:
        json.dump({"source": source, "model": model, "sha256": digest, "summary": args.summary}, f, indent=2)
        f.write("\n")
    facts = ", ".join(f"{k}={v}" for k, v in args.summary.items())
    print(f"Selected {source} -> {model} (sha256 {digest[:12]}){': ' + facts if facts else ''}", flush=True)
    print(json.dumps({"intern_output": {"model": model}}), flush=True)


if __name__ == "__main__":
    main()
