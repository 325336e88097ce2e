"""Runs one capture's job twice with the real packages and writes what it printed:
separate.stdout + separate.stderr (streams apart), merged.log (one file for both, as `2>&1`
writes it: one open file shared by fd 1 and 2), then expected.json (the points a person reads
in each, by oracle.py) and meta.json (versions, exit codes).

    capture.py CAPTURE_DIR --venv VENV

CAPTURE_DIR/job.sh is run by bash in a scratch directory, with VENV/bin first on PATH, the
Hugging Face hub offline, PYTHONUNBUFFERED unset (a batch job's stdout is block-buffered, as
under SLURM), $FIXTURES set to this folder and $FIXTURE_RECORD to a JSON file the job may write
with what the framework itself recorded:

    {"metrics": {"NAME": {"count": N or null, "last": NUMBER or "nan"/"inf"/"-inf"}},
     "names_complete": true|false}

Every recorded metric must be found by the oracle with that count (when given) and last value
(to the printed precision); with names_complete, the oracle must find no other name. A `# exit:
N` line in job.sh declares the exit status expected (default 0). Any mismatch fails the capture.
"""
import argparse
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGES = ["torch", "transformers", "trl", "accelerate", "datasets", "tokenizers", "peft",
            "lightning", "pytorch-lightning", "keras", "numpy", "tqdm", "rich"]


def text(value):
    """A float as expected.json writes it: repr, or nan/inf/-inf."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def summarise(streams):
    """{name: {"count", "last"}} over the streams' points; `last` is null when a name appears
    on more than one stream (their relative order is not in the files)."""
    found = {}
    for index, data in enumerate(streams):
        for name, value in oracle.read(data):
            entry = found.setdefault(name, {"count": 0, "last": None, "streams": set()})
            entry["count"] += 1
            entry["last"] = value
            entry["streams"].add(index)
    return {
        name: {"count": e["count"], "last": text(e["last"]) if len(e["streams"]) == 1 else None}
        for name, e in sorted(found.items())
    }


def close(printed, recorded):
    if isinstance(recorded, str):
        recorded = float(recorded)
    if math.isnan(recorded) or math.isnan(printed):
        return math.isnan(recorded) and math.isnan(printed)
    if math.isinf(recorded) or math.isinf(printed):
        return printed == recorded
    return abs(printed - recorded) <= max(1e-4, 1e-3 * abs(recorded))


def check(name, mode, found, record):
    problems = []
    for metric, want in record.get("metrics", {}).items():
        got = found.get(metric)
        if got is None:
            problems.append(f"{metric}: recorded by the framework, not in the log")
            continue
        if want.get("count") is not None and got["count"] != want["count"]:
            problems.append(f"{metric}: {got['count']} points in the log, {want['count']} recorded")
        if want.get("last") is not None and got["last"] is not None and not close(float(got["last"]), want["last"]):
            problems.append(f"{metric}: last {got['last']} in the log, {want['last']} recorded")
    if record.get("names_complete"):
        extra = sorted(set(found) - set(record.get("metrics", {})))
        if extra:
            problems.append(f"names in the log the framework did not record: {extra}")
    if problems:
        sys.exit(f"{name} ({mode}): the log and the framework disagree:\n  " + "\n  ".join(problems))


def versions(venv):
    code = (
        "import importlib.metadata as m, json, sys\n"
        f"names = {PACKAGES!r}\n"
        "out = {'python': sys.version.split()[0]}\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    return json.loads(subprocess.check_output([os.path.join(venv, "bin", "python"), "-c", code]))


def streams_of(capture, mode):
    if mode == "separate":
        return [open(os.path.join(capture, "separate.stdout"), "rb").read(),
                open(os.path.join(capture, "separate.stderr"), "rb").read()]
    return [open(os.path.join(capture, "merged.log"), "rb").read()]


def reread(capture):
    """expected.json again from the captured logs and the framework's records in meta.json."""
    name = os.path.basename(capture.rstrip("/"))
    meta = json.load(open(os.path.join(capture, "meta.json")))
    old = json.load(open(os.path.join(capture, "expected.json")))
    result = {"capture": name}
    for mode in ("separate", "merged"):
        found = summarise(streams_of(capture, mode))
        check(name, mode, found, meta.get("recorded", {}).get(mode, {}))
        result[mode] = {"exit_code": old[mode]["exit_code"], "metrics": found}
    with open(os.path.join(capture, "expected.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{name}: expected.json reread")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("capture")
    parser.add_argument("--venv")
    parser.add_argument("--reread", action="store_true",
                        help="only read the logs already captured again (after a change to oracle.py) and rewrite expected.json")
    args = parser.parse_args()
    if args.reread:
        return reread(os.path.abspath(args.capture))
    if not args.venv:
        sys.exit("--venv is required (or --reread)")
    capture = os.path.abspath(args.capture)
    name = os.path.basename(capture.rstrip("/"))
    job = os.path.join(capture, "job.sh")
    with open(job) as f:
        script = f.read()
    expected_exit = 0
    for line in script.splitlines():
        if line.startswith("# exit:"):
            expected_exit = int(line.split(":", 1)[1])

    result = {"capture": name}
    meta = {"capture": name, "generated": datetime.date.today().isoformat(), "generator": "generate.sh",
            "machine": platform.machine(), "versions": versions(args.venv), "job": script}
    for mode in ("separate", "merged"):
        scratch = tempfile.mkdtemp(prefix=f"fixture-{name}-")
        try:
            record_path = os.path.join(scratch, "record.json")
            env = dict(os.environ)
            env.pop("PYTHONUNBUFFERED", None)
            env.update({
                "PATH": os.path.join(args.venv, "bin") + os.pathsep + env.get("PATH", ""),
                "VIRTUAL_ENV": args.venv,
                "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "HF_HOME": os.path.join(scratch, "hf-home"),
                "FIXTURES": HERE, "FIXTURE_RECORD": record_path,
            })
            if mode == "separate":
                out_path, err_path = os.path.join(capture, "separate.stdout"), os.path.join(capture, "separate.stderr")
                with open(out_path, "wb") as out, open(err_path, "wb") as err:
                    code = subprocess.run(["bash", job], cwd=scratch, env=env, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=err, timeout=3600).returncode
                streams = streams_of(capture, mode)
            else:
                log_path = os.path.join(capture, "merged.log")
                with open(log_path, "wb") as log:
                    code = subprocess.run(["bash", job], cwd=scratch, env=env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=log, timeout=3600).returncode
                streams = streams_of(capture, mode)
            if code != expected_exit:
                sys.exit(f"{name} ({mode}): exited {code}, job.sh declares {expected_exit}")
            found = summarise(streams)
            record = json.load(open(record_path)) if os.path.exists(record_path) else {}
            check(name, mode, found, record)
            result[mode] = {"exit_code": code, "metrics": found}
            meta.setdefault("recorded", {})[mode] = record
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        print(f"{name} ({mode}): exit {code}, {sum(m['count'] for m in result[mode]['metrics'].values())} points, "
              f"names {sorted(result[mode]['metrics'])}")

    with open(os.path.join(capture, "expected.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(capture, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
