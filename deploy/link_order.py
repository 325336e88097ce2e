#!/usr/bin/env python3
"""Writes deploy/intern-hot.ld, the linker script that places the code a real campaign runs together.

Why: the kernel maps the 64 KB around each page of code a process touches (fault-around), so a
process that runs a few thousand functions scattered over a 25 MB `.text` keeps most of it
resident. The release link (Makefile, RELEASE_FLAGS) gives lld this script: the input sections
(one per function, `-function-sections`) that a campaign ran go into `.text.hot`, placed before
`.text`, so the same work touches a few MB. The script changes where code lies, not what it does:
a pattern that matches nothing (a function renamed since) is skipped, and a function the script
does not name stays in `.text`, in lld's own order.

How the run code is found: `make link-order` builds a profiling binary whose every function starts a
page of its own (`-align-all-functions=12`) and keeps lld's map of where each input section went.
A copy of it is dropped from the page cache and the read-ahead of the disk it lies on is set to 0
for the length of the run, so each page of the copy that any process executes is read alone. After
an `intern run` of python trials that print metric lines (W1's shape: the coordinator and two local
workers), the pages of the copy in the page cache (mincore) are the pages some process executed,
and the input sections on them, by the map, are the ones written, grouped by the file they come
from. Sections with no symbol (closure destructors, thunks: `.text..L...`) are placed too, which
lld's --symbol-ordering-file cannot do. The read-ahead is put back whatever happens.

Needs root (the read-ahead setting). Usage:
    python3 deploy/link_order.py BINARY --map BINARY.map [--out deploy/intern-hot.ld] [--trials 300]
"""
import argparse
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile

PAGE = 4096
PYTHON = "/usr/bin/python3"

# W1's job and its one-value space, as `make bench` runs them (Benchmarks/bench.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Benchmarks"))
from bench import SHAPE_PY as JOB, TRIVIAL_SPACE  # noqa: E402

SPEC = "name: link-order\ncommand: [%s, job.py, \"{trial}\", \"10\"]\n" + TRIVIAL_SPACE + \
    "trials: %d\nparallel: 2\nobjective: {metric: loss, direction: minimize}\n"

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


def cached_pages(path):
    """The page numbers of path that are in the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        base = libc.mmap(None, size, 1, 2, fd, 0)  # PROT_READ, MAP_PRIVATE
        if base in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap " + path)
        n = (size + PAGE - 1) // PAGE
        vec = (ctypes.c_ubyte * n)()
        try:
            if libc.mincore(base, size, vec) != 0:
                raise OSError(ctypes.get_errno(), "mincore " + path)
        finally:
            libc.munmap(base, size)
        return {i for i in range(n) if vec[i] & 1}
    finally:
        os.close(fd)


def drop_from_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_ahead_file(path):
    """/sys/.../queue/read_ahead_kb of the disk that holds path (a partition's is its disk's)."""
    st = os.stat(path)
    dev = "/sys/dev/block/%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
    for candidate in (os.path.join(dev, "queue", "read_ahead_kb"), os.path.join(dev, "..", "queue", "read_ahead_kb")):
        if os.path.exists(candidate):
            return os.path.realpath(candidate)
    sys.exit("link_order: no read_ahead_kb for the disk of %s (%s)" % (path, dev))


MAP_LINE = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ ( *)(\S.*)$")


def text_input_sections(link_map):
    """(address, size, file, section) of every input section lld placed in the output .text (or
    .text.hot, the profiled binary being linked with the script before), from its -Map file.
    After `VMA LMA SIZE ALIGN`, an output section's name follows at once, an input section
    (`FILE:(SECTION)`) 8 spaces in, a symbol 16."""
    result, inside = [], False
    with open(link_map) as f:
        for line in f:
            m = MAP_LINE.match(line)
            if not m:
                continue
            indent, what = len(m.group(3)), m.group(4)
            if indent == 0:
                inside = what in (".text", ".text.hot")
            elif indent == 8 and inside and what.endswith(")") and ":(" in what:
                where, _, section = what.rpartition(":(")
                result.append((int(m.group(1), 16), int(m.group(2), 16), where, section[:-1]))
    return result


def file_pattern(where):
    """The linker-script pattern for an input file: `*lib.a:member.o` for an archive's member,
    `*/folder/file.o` for an object (the build folder's own path left out)."""
    if where.endswith(")") and "(" in where:
        archive, _, member = where[:-1].partition("(")
        return "*%s:%s" % (os.path.basename(archive), member)
    return "*/%s/%s" % (os.path.basename(os.path.dirname(where)), os.path.basename(where))


def text_offset(binary):
    """(file offset, address) of .text."""
    out = subprocess.run(["readelf", "-SW", binary], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.replace("[ ", "[").split()
        if len(parts) > 5 and parts[1] == ".text":
            return int(parts[4], 16), int(parts[3], 16)
    sys.exit("link_order: %s has no .text" % binary)


HEADER = """/* Written by deploy/link_order.py (make link-order) from the code an `intern run` of python trials
   executed: its coordinator and two local workers. The release link (Makefile, RELEASE_FLAGS) places
   these input sections together before .text, so a process keeps a few MB of the binary's code
   resident instead of most of it. A pattern that matches nothing is skipped. */
"""

SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.$-+/:")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", help="a release `intern` linked with -function-sections and -align-all-functions=12")
    ap.add_argument("--map", required=True, help="lld's -Map of that link")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "intern-hot.ld"))
    ap.add_argument("--trials", type=int, default=300)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("link_order: needs root, to set the disk's read-ahead to 0 for the run")

    work = tempfile.mkdtemp(prefix="intern-link-order-")
    try:
        binary = os.path.join(work, "intern")
        shutil.copyfile(args.binary, binary)
        os.chmod(binary, 0o755)
        with open(os.path.join(work, "job.py"), "w") as f:
            f.write(JOB)
        with open(os.path.join(work, "campaign.yaml"), "w") as f:
            f.write(SPEC % (PYTHON, args.trials))
        drop_from_cache(binary)
        if cached_pages(binary):
            sys.exit("link_order: the copy of the binary is still in the page cache after POSIX_FADV_DONTNEED")
        knob = read_ahead_file(binary)
        saved = open(knob).read().strip()
        try:
            with open(knob, "w") as f:
                f.write("0")
            run = subprocess.run([binary, "run", "campaign.yaml", "--workers", "2", "--quiet", "--root", os.path.join(work, "root")],
                                 cwd=work, capture_output=True, text=True, timeout=600)
        finally:
            with open(knob, "w") as f:
                f.write(saved)
        if run.returncode != 0:
            sys.exit("link_order: the campaign failed (%d): %s" % (run.returncode, run.stderr[-2000:]))
        touched = cached_pages(binary)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # The copy has the profiled binary's layout: page P of the file holds file offset P*4096, and
    # .text's VMA minus its file offset is the same for every address in it.
    offset, address = text_offset(args.binary)
    sections = text_input_sections(args.map)
    def pages(addr, length):
        first = (addr - address + offset) // PAGE
        return range(first, (addr + max(length, 1) - 1 - address + offset) // PAGE + 1)
    by_file, order, listed, skipped = {}, [], 0, 0
    for addr, length, where, section in sections:
        if not any(p in touched for p in pages(addr, length)):
            continue
        pattern = file_pattern(where)
        if not (set(pattern) <= SAFE | {"*"} and set(section) <= SAFE):
            skipped += 1
            continue
        if pattern not in by_file:
            by_file[pattern] = []
            order.append(pattern)
        if section not in by_file[pattern]:
            by_file[pattern].append(section)
            listed += 1
    with open(args.out, "w") as f:
        f.write(HEADER)
        f.write("SECTIONS\n{\n  .text.hot : {\n")
        for pattern in order:
            f.write("    %s(%s)\n" % (pattern, " ".join(by_file[pattern])))
        f.write("  }\n}\nINSERT BEFORE .text;\n")
    print("link_order: %d input sections of %d in .text were run (%d files; %d skipped, names a script cannot hold); written to %s" % (
        listed, len(sections), len(order), skipped, os.path.relpath(args.out)))


if __name__ == "__main__":
    main()
