#!/usr/bin/env python3
"""Filters one shard: drops exact duplicates, near duplicates (the same words once case,
spacing and punctuation are normalised) and rows with a word of toxic_words.txt, in that order.

    python3 filter.py SHARD --out DIR

Writes the kept rows to DIR/<shard name>, declares it as the output `kept`, prints counters
for intern's totals ({"rows_in": ..., "rows_kept": ..., "dropped/<reason>": ..., "bytes_in": ...})
and one {"intern_sample": {"reason": ..., "record": ...}} line per dropped row for the audit sample.
FILTER_SLEEP (seconds) slows it down after half the rows (for tests that kill a worker mid-shard).
"""
import argparse
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PUNCTUATION = re.compile(r"[^\w\s]")


def normalise(text):
    return " ".join(PUNCTUATION.sub(" ", text.lower()).split())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("shard")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(os.path.join(HERE, "toxic_words.txt")) as f:
        toxic = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    os.makedirs(args.out, exist_ok=True)
    kept_path = os.path.abspath(os.path.join(args.out, os.path.basename(args.shard)))
    counts = {"rows_in": 0, "rows_kept": 0, "dropped/duplicate": 0, "dropped/near_duplicate": 0, "dropped/toxicity": 0, "bytes_in": 0}
    exact, near = set(), set()
    with open(args.shard, "rb") as f:
        lines = f.readlines()
    sleep = float(os.environ.get("FILTER_SLEEP", "0"))
    with open(kept_path, "w") as out:
        for index, raw in enumerate(lines):
            if sleep and index == len(lines) // 2:
                sys.stdout.flush()
                time.sleep(sleep)
            counts["rows_in"] += 1
            counts["bytes_in"] += len(raw)
            row = json.loads(raw)
            text = row["text"]
            key = normalise(text)
            if text in exact:
                reason = "duplicate"
            elif key in near:
                reason = "near_duplicate"
            elif toxic.intersection(key.split()):
                reason = "toxicity"
            else:
                reason = None
            exact.add(text)
            near.add(key)
            if reason:
                counts["dropped/" + reason] += 1
                print(json.dumps({"intern_sample": {"reason": reason, "record": row}}))
            else:
                counts["rows_kept"] += 1
                out.write(json.dumps(row) + "\n")
    print(json.dumps(counts))
    print(json.dumps({"intern_output": {"kept": kept_path}}))


if __name__ == "__main__":
    main()
