"""A job for the end-to-end tests: writes deterministic, awkward output (Trainer-style dict
lines, tqdm \r redraws, invalid UTF-8, NUL bytes, long lines) to stdout and stderr, and a copy
of exactly those bytes to OUT/<trial>.stdout and OUT/<trial>.stderr, so a test can check the
stored log byte for byte against what the job wrote."""
import os
import random
import sys
import time

trial = int(sys.argv[1])
out_dir = sys.argv[2]
size = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
exit_code = int(os.environ.get("JOB_EXIT", "0")) if trial % 5 != 0 else 0
rng = random.Random(trial)
time.sleep(float(os.environ.get("JOB_SLEEP", "0")))

out = bytearray()
err = bytearray()
epochs = 3
for epoch in range(1, epochs + 1):
    for step in range(4):
        loss = 2.0 / (epoch + step * 0.1) + rng.random() * 0.01
        out += ("{'loss': %.4f, 'learning_rate': %s, 'epoch': %.2f}\n" % (loss, os.environ["INTERN_PARAM_LR"], epoch - 1 + step / 4)).encode()
        err += ("\r %d%%|##   | %d/%d [00:01<00:02, 9.5it/s]" % (step * 25, step, 4)).encode()
    acc = 0.5 + 0.1 * epoch + (trial % 7) / 100
    out += ("{'eval_loss': %.4f, 'eval_accuracy': %.4f, 'epoch': %.1f}\n" % (1.0 / epoch, acc, epoch)).encode()
# Binary garbage and a long line: stored verbatim, never parsed as metrics.
out += bytes(rng.getrandbits(8) for _ in range(size)) + b"\n"
out += b"\x00\xff\xfe not utf-8 \xc3\x28\n" + b"x" * 100000 + b"\n"
out += b'{"final_score": %d, "step": 3}\n' % trial
err += b"\nstderr done\n"

with open(os.path.join(out_dir, "%d.stdout" % trial), "wb") as f:
    f.write(out)
with open(os.path.join(out_dir, "%d.stderr" % trial), "wb") as f:
    f.write(err)
# Write in uneven chunks with pauses shorter than the flush interval.
for i in range(0, len(out), 7777):
    sys.stdout.buffer.write(out[i:i + 7777])
    sys.stdout.buffer.flush()
sys.stderr.buffer.write(err)
sys.stderr.buffer.flush()
sys.exit(exit_code)
