"""What a person reads as metrics in a captured log: an independent reading of the metric
grammar of docs/campaign.md ("Metrics from the job's output"), written with Python's own parser
(ast) for dict and JSON lines, used by capture.py to write each capture's expected points.

It is deliberately not a port of the Swift parser: objects are read by `ast.parse`, numbers by a
regular expression, and every capture's result is checked against what the framework itself
recorded (Trainer.state.log_history, Keras' History, Lightning's logged metrics), so a mistake
in either reading shows up as a difference instead of as a matching pair of mistakes.

Where Python's own grammar is stricter or looser than the documented one, on input no framework
prints, the two readings differ, and the generated-lines test (MetricGrammarOracleTests) stays
clear of it: nested groups whose content is not valid Python (the docs only ask for balanced
brackets), integers with leading zeros or underscores (`03`, `1_0`), `r'1'` strings, unknown
escapes in a key (`'e\poch'`).
"""
import ast
import re

MAX_NAME = 200
# Terminal escape sequences (ECMA-48): CSI (ESC [ params intermediates final?), OSC (ESC ] ... up
# to BEL or ESC \; without a terminator only ESC ] goes), ESC intermediates final? (ESC ( B, ESC 7).
ANSI = re.compile(
    rb"\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    rb"|\x1b\][^\x07\x1b\n\r]*(?:\x07|\x1b\\)"
    rb"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)", re.I)
SPECIAL = {"nan": float("nan"), "inf": float("inf"), "infinity": float("inf")}
# Ignored at both ends of a line: whitespace, and the backspaces Keras ends each redraw with.
SPACE = b" \t\x0b\x0c\x08"
# tqdm's bracket: [elapsed<remaining, rate, postfix...]; elapsed is [H:]MM:SS.
TQDM_GROUP = re.compile(rb"\[\d+:\d\d")
KERAS_PAIR = re.compile(rb" - ([^ \t:]+): (\S+)$")


def split_lines(data: bytes):
    """Lines end at \\n, \\r or \\r\\n; a last line without a terminator counts."""
    lines = re.split(rb"\r\n|\r|\n", data)
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def number(text):
    """The value of a number token (the whole text), or None."""
    if not NUMBER.fullmatch(text):
        return None
    low = text.lower().lstrip("+")
    sign = -1.0 if low.startswith("-") else 1.0
    word = low.lstrip("-")
    if word in SPECIAL:
        return sign * SPECIAL[word]
    return float(text)


def valid_name(name):
    raw = name.encode("utf-8", "surrogatepass")
    if not raw or len(raw) > MAX_NAME:
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(b < 0x20 or b == 0x7F for b in raw)


def value_of(node):
    """A dict value as a person reads it: a number, a numeric string, nan/inf, np.float64(x),
    tensor(x, ...); None for anything else."""
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or v is None:
            return None
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, str):
            # u'1' is a string with a prefix, which the grammar skips like b'1'.
            return None if node.kind == "u" else number(v)
        return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = value_of(node.operand) if not isinstance(node.operand, ast.Constant) or not isinstance(node.operand.value, str) else None
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Name):
        return SPECIAL.get(node.id.lower())
    if isinstance(node, ast.Call) and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return None
        return value_of(first)
    return None


def is_word(node):
    """A bare word, dotted or not: `None`, `true`, `np.nan`."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def well_formed(node):
    """Whether a dict value is one of the grammar's forms: a constant (number, string, bytes),
    a word, a signed number, a call, an f-string, or a nested dict/list/tuple/set. Anything else
    Python would accept (`1 + 2`, `-x`, `a[0]`) makes the whole line give nothing."""
    if isinstance(node, (ast.Constant, ast.JoinedStr, ast.Dict, ast.List, ast.Tuple, ast.Set)):
        return True
    if is_word(node):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = node.operand
        if isinstance(operand, ast.Constant):
            return isinstance(operand.value, (int, float)) and not isinstance(operand.value, bool)
        return isinstance(operand, ast.Name) and operand.id.lower() in SPECIAL
    return isinstance(node, ast.Call) and is_word(node.func)


def object_points(text):
    """Points of one `{...}` object (JSON or a Python dict repr); None when it is not one."""
    try:
        tree = ast.parse(text.decode("utf-8", "surrogateescape"), mode="eval")
    except (SyntaxError, ValueError):
        return None
    if not isinstance(tree.body, ast.Dict):
        return None
    if any(key is None or not well_formed(key) or not well_formed(val) for key, val in zip(tree.body.keys, tree.body.values)):
        return None
    points = []
    for key, val in zip(tree.body.keys, tree.body.values):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            continue
        v = value_of(val)
        if v is None or not valid_name(key.value):
            continue
        if key.value in ("step", "global_step"):
            continue
        points.append((key.value, v))
    return points


def line_points(line: bytes):
    """The (name, value) points of one line."""
    line = ANSI.sub(b"", line).strip(SPACE)
    if not line:
        return []
    if line.startswith(b"{"):
        return object_points(line) or []
    if line.endswith(b"}"):
        start = line.find(b"{")
        before = line[:start].rstrip(SPACE)
        group = before.rfind(b"[")
        if before.endswith(b"]") and group >= 0 and TQDM_GROUP.match(before, group):
            return object_points(line[start:]) or []
        return []
    if line.endswith(b"]"):
        group = line.rfind(b"[")
        if group < 0 or not TQDM_GROUP.match(line, group):
            return []
        points = []
        for item in line[group + 1:-1].split(b", "):
            key, eq, val = item.partition(b"=")
            if not eq:
                continue
            try:
                name, text = key.decode("utf-8"), val.decode("utf-8")
            except UnicodeDecodeError:
                continue
            v = number(text)
            if v is not None and valid_name(name) and name not in ("step", "global_step"):
                points.append((name, v))
        return points
    text = line
    pairs = []
    while True:
        m = KERAS_PAIR.search(text)
        if not m or number(m.group(2).decode("latin-1")) is None:
            break
        pairs.append((m.group(1), number(m.group(2).decode("latin-1"))))
        text = text[: m.start()]
    points = []
    for raw, v in reversed(pairs):
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if valid_name(name) and name not in ("step", "global_step"):
            points.append((name, v))
    return points


BLOCK_ROW = re.compile(rb"  ([^ =]+) +=( +)([^ ]+)")


def block_points(line: bytes, state: dict):
    """Trainer.log_metrics' blocks: `***** NAME metrics *****`, then `  KEY = VALUE` rows until
    another line. `state["open"]` carries the block from line to line (one state per stream)."""
    text = ANSI.sub(b"", line).rstrip(SPACE)
    head = text.lstrip(SPACE)
    if head.startswith(b"***** ") and head.endswith(b" metrics *****") and len(head) > 20:
        state["open"] = True
        return []
    m = BLOCK_ROW.fullmatch(text) if state.get("open") else None
    if not m:
        state["open"] = False
        return []
    try:
        name = m.group(1).decode("utf-8")
    except UnicodeDecodeError:
        return []
    value = number(m.group(3).decode("latin-1"))
    if value is None or not valid_name(name) or name in ("step", "global_step"):
        return []
    return [(name, value)]


def read(data: bytes):
    """Every point of a log (one stream), in order: [(name, value)]."""
    points, state = [], {}
    for line in split_lines(data):
        points.extend(line_points(line))
        points.extend(block_points(line, state))
    return points


def text(value):
    """A float as the tests compare it: repr, or nan/inf/-inf."""
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return repr(value)


if __name__ == "__main__":
    # python3 oracle.py LINES_FILE: the points of each line (lines end at \n), one JSON list a line.
    import json
    import sys

    with open(sys.argv[1], "rb") as f:
        data = f.read()
    for raw in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        print(json.dumps([[name, text(value)] for name, value in line_points(raw)]))
