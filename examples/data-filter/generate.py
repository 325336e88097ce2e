#!/usr/bin/env python3
"""Writes a synthetic text corpus in shards, with duplicates and "toxic" rows planted at known
places, and the planted counts in planted.json (what the campaign's totals must come to).

    python3 generate.py --out data --shards 16 --rows 500 --seed 7

Each shard is JSON lines {"id": "s03-r0042", "text": "..."}. Planted, per shard:
- exact duplicates: a copy of a clean row of the same shard, verbatim;
- near duplicates: a copy of a clean row of the same shard with its case, spacing and
  punctuation changed (the same words: what normalisation catches);
- toxic rows: an original row with a word of toxic_words.txt in it;
- cross-shard duplicates: a verbatim copy of a clean row of another shard (only a global
  dedupe, the reduce, can see it).
Standard library only; the same arguments always write the same bytes.
"""
import argparse
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def words(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data")
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--rows", type=int, default=500, help="rows per shard, planted ones included")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    toxic = words(os.path.join(HERE, "toxic_words.txt"))
    vocabulary = ["w%03d" % i for i in range(800)]

    def sentence():
        return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(10, 18)))

    def near(text):
        # The same words, other case, spacing and punctuation.
        tokens = text.split(" ")
        tokens[0] = tokens[0].upper()
        return "  ".join(tokens) + rng.choice([".", "!", " ?", "..."])

    shards_dir = os.path.join(args.out, "shards")
    os.makedirs(shards_dir, exist_ok=True)
    planted = {"rows_in": 0, "dropped/duplicate": 0, "dropped/near_duplicate": 0, "dropped/toxicity": 0,
               "cross_shard_duplicates": 0}
    clean_by_shard = []
    shards = []
    for shard in range(args.shards):
        n_exact = 8 + shard % 5
        n_near = 5 + shard % 3
        n_toxic = 10 + (shard * 7) % 9
        # Copies of another shard's rows need one with clean rows left to copy.
        donors = [s for s in range(shard) if len(clean_by_shard[s]) >= 3]
        n_cross = 3 if donors else 0
        n_clean = args.rows - n_exact - n_near - n_toxic - n_cross
        clean = [sentence() for _ in range(n_clean)]
        # Copy sources: distinct clean rows, so every planted copy drops exactly one row.
        sources = rng.sample(range(n_clean), n_exact + n_near)
        rows = [("clean", text) for text in clean]
        rows += [("duplicate", clean[i]) for i in sources[:n_exact]]
        rows += [("near_duplicate", near(clean[i])) for i in sources[n_exact:]]
        for _ in range(n_toxic):
            tokens = sentence().split(" ")
            tokens.insert(rng.randrange(len(tokens)), rng.choice(toxic))
            rows.append(("toxicity", " ".join(tokens)))
        if n_cross:
            # Clean rows of earlier shards that were not copied there (each copied once at most).
            earlier = rng.choice(donors)
            for text in rng.sample(clean_by_shard[earlier], n_cross):
                rows.append(("cross", text))
                clean_by_shard[earlier].remove(text)
        # Originals come before their copies: keep the clean rows first, shuffle the rest after.
        head, tail = rows[:n_clean], rows[n_clean:]
        rng.shuffle(tail)
        rows = head + tail
        uncopied = [text for i, text in enumerate(clean) if i not in set(sources)]
        clean_by_shard.append(uncopied)
        shards.append(rows)
        planted["rows_in"] += len(rows)
        planted["dropped/duplicate"] += n_exact
        planted["dropped/near_duplicate"] += n_near
        planted["dropped/toxicity"] += n_toxic
        planted["cross_shard_duplicates"] += n_cross
    for shard, rows in enumerate(shards):
        with open(os.path.join(shards_dir, "shard-%02d.jsonl" % shard), "w") as f:
            for index, (_, text) in enumerate(rows):
                f.write(json.dumps({"id": "s%02d-r%04d" % (shard, index), "text": text}) + "\n")
    planted["rows_kept"] = planted["rows_in"] - planted["dropped/duplicate"] - planted["dropped/near_duplicate"] - planted["dropped/toxicity"]
    planted["rows_final"] = planted["rows_kept"] - planted["cross_shard_duplicates"]
    with open(os.path.join(args.out, "planted.json"), "w") as f:
        json.dump(planted, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(planted, sort_keys=True))


if __name__ == "__main__":
    main()
