#!/usr/bin/env python3
"""The reduce: reads every shard's kept rows (the files $INTERN_INPUTS_FILE lists as their
`kept` outputs), drops rows seen in an earlier shard (a global dedupe on the normalised text),
writes the result to --out and prints the merged statistics.
"""
import argparse
import json
import os

from filter import normalise


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(os.environ["INTERN_INPUTS_FILE"]) as f:
        inputs = json.load(f)["inputs"]
    seen = set()
    stats = {"shards_merged": len(inputs), "rows_merged": 0, "rows_final": 0, "dropped_global/duplicate": 0}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as out:
        for shard in sorted(inputs, key=lambda s: s["item"]):
            with open(shard["outputs"]["kept"]) as f:
                for line in f:
                    row = json.loads(line)
                    stats["rows_merged"] += 1
                    key = normalise(row["text"])
                    if key in seen:
                        stats["dropped_global/duplicate"] += 1
                        print(json.dumps({"intern_sample": {"reason": "global_duplicate", "record": row}}))
                        continue
                    seen.add(key)
                    stats["rows_final"] += 1
                    out.write(line)
    print(json.dumps(stats))
    print(json.dumps({"intern_output": {"corpus": os.path.abspath(args.out)}}))


if __name__ == "__main__":
    main()
