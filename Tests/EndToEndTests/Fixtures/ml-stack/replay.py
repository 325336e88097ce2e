"""Replays a capture as the job that printed it: `replay.py CAPTURE_DIR separate|merged`.

separate: writes separate.stdout to stdout and separate.stderr to stderr, in turns of 4 KiB,
as the two pipes of the original job would have carried them; merged: writes merged.log to
stdout (what a job launched with 2>&1 writes). Exits with the status the capture recorded.
Standard library only (the tests run it with /usr/bin/python3)."""
import json
import os
import sys

capture, mode = sys.argv[1], sys.argv[2]
expected = json.load(open(os.path.join(capture, "expected.json")))
if mode == "separate":
    streams = [(open(os.path.join(capture, "separate.stdout"), "rb").read(), sys.stdout.buffer),
               (open(os.path.join(capture, "separate.stderr"), "rb").read(), sys.stderr.buffer)]
else:
    streams = [(open(os.path.join(capture, "merged.log"), "rb").read(), sys.stdout.buffer)]
offsets = [0] * len(streams)
while any(offset < len(data) for offset, (data, _) in zip(offsets, streams)):
    for index, (data, out) in enumerate(streams):
        chunk = data[offsets[index]:offsets[index] + 4096]
        if chunk:
            out.write(chunk)
            out.flush()
            offsets[index] += len(chunk)
sys.exit(expected[mode]["exit_code"])
