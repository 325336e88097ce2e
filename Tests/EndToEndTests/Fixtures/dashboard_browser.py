#!/usr/bin/env python3
"""Drives headless Chromium through the DevTools protocol (over --remote-debugging-pipe, so only
the standard library is needed): opens a dashboard page, watches what its script received over
Server-Sent Events until the completed count has risen and the analysis was swapped in, then
screenshots it (and, with --trial-url, a trial's page). Prints one JSON
object: the polls, whether the document stayed the same (no reload), the screenshot's pixels."""
import argparse, base64, json, os, shutil, struct, subprocess, sys, tempfile, time, zlib


class Browser:
    def __init__(self, chromium, width, height):
        self.profile = tempfile.mkdtemp(prefix="intern-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():  # Chromium reads commands on fd 3 and writes answers on fd 4.
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-pipe",
             "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height), "about:blank"],
            preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0

    def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self.next_id:
                    if "error" in answer:
                        raise RuntimeError("%s: %s" % (method, answer["error"]))
                    return answer["result"]
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buffer += chunk
        raise RuntimeError("no answer to " + method)

    def close(self):
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def png_pixels(data):
    """(width, height, [(r, g, b)]) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), "unexpected PNG format"
            bpp = 4 if color == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1: line[i] = (line[i] + a) & 255
            elif kind == 2: line[i] = (line[i] + b) & 255
            elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, [tuple(row[x * bpp:x * bpp + 3]) for row in rows for x in range(width)]


PROBE = """JSON.stringify((function () {
  var live = document.getElementById('live'), field = document.querySelector('[data-field=completed]');
  return {origin: performance.timeOrigin, received: live ? +live.dataset.received : -1,
          history: live && live.dataset.completed ? live.dataset.completed.split(',').map(Number) : [],
          shown: field ? +field.textContent : -1, status: live ? live.textContent : '',
          rows: document.querySelectorAll('#trial-table tr[data-status=completed]').length,
          analysis: live && live.dataset.analysis ? +live.dataset.analysis : 0,
          spent: (document.getElementById('analysis') || {textContent: ''}).textContent.indexOf('spent:') >= 0,
          charts: document.querySelectorAll('#analysis svg.chart').length};
})())"""


def steer(browser, session, token, action):
    """Types the token, clicks the action's button, and returns the answer the page shows."""
    click = ("(function () { var c = document.getElementById('control'); c.querySelector('[data-name=token]').value = %s;"
             " document.getElementById('control-answer').textContent = '';"
             " c.querySelector('button[data-action=%s]').click(); return 'clicked'; })()") % (json.dumps(token), action)
    browser.call("Runtime.evaluate", {"expression": click, "returnByValue": True}, session)
    for _ in range(100):
        answer = browser.call("Runtime.evaluate", {"expression": "document.getElementById('control-answer').textContent",
                                                   "returnByValue": True}, session)["result"].get("value") or ""
        if answer:
            return json.loads(answer)
        time.sleep(0.1)
    return {}


def screenshot(browser, session, path):
    """Writes the page's screenshot to path; returns its size and how much of it is not white."""
    shot = base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png"}, session)["data"])
    with open(path, "wb") as out:
        out.write(shot)
    small = base64.b64decode(browser.call("Page.captureScreenshot", {
        "format": "png", "clip": {"x": 0, "y": 0, "width": 1280, "height": 1400, "scale": 0.25}}, session)["data"])
    width, height, pixels = png_pixels(small)
    white = sum(1 for p in pixels if min(p) >= 245)
    return {"bytes": len(shot), "width": width, "height": height, "colors": len(set(pixels)),
            "inked": round(1 - white / max(1, len(pixels)), 4)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--token", help="then steer: pause and resume with the page's buttons and this token")
    parser.add_argument("--trial-url", help="then open this trial page and screenshot it to --trial-screenshot")
    parser.add_argument("--trial-screenshot")
    args = parser.parse_args()
    browser = Browser(args.chromium, 1280, 1400)
    result = {"polls": []}
    try:
        target = browser.call("Target.createTarget", {"url": args.url})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        deadline = time.time() + args.timeout
        while time.time() < deadline:
            value = browser.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session)
            poll = json.loads(value["result"].get("value") or "{}") if value["result"].get("type") == "string" else {}
            if poll and poll["received"] >= 0:  # the dashboard's document (not the blank one before it)
                result["polls"].append(poll)
                history = poll.get("history", [])
                if len(history) >= 2 and history[-1] > history[0] and poll["shown"] == history[-1]:
                    # The table is fetched again when its version moves: at most once a second
                    # (docs/dashboard.md); give it 2.5 s.
                    swapped = time.time() + 2.5
                    while True:
                        time.sleep(0.1)
                        last = json.loads(browser.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session)["result"]["value"])
                        if last["rows"] >= history[0] or time.time() > swapped:
                            break
                    result["polls"].append(last)
                    break
            time.sleep(0.2)
        if args.token:
            result["control"] = [steer(browser, session, args.token, action) for action in ("pause", "resume")]
        # The analysis (charts, failures, hours) swapped in after a change, in the same document.
        for _ in range(100):
            poll = json.loads(browser.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session)["result"]["value"])
            if poll["analysis"] >= 1:
                break
            time.sleep(0.1)
        result["analysis"] = poll
        result["screenshot"] = screenshot(browser, session, args.screenshot)
        if args.trial_url:
            browser.call("Page.navigate", {"url": args.trial_url}, session)
            for _ in range(100):
                state = browser.call("Runtime.evaluate", {"expression": "document.readyState + ' ' + location.href + ' ' + document.title",
                                                          "returnByValue": True}, session)["result"].get("value") or ""
                if state.startswith("complete " + args.trial_url):
                    break
                time.sleep(0.1)
            time.sleep(0.3)  # the log followed, its first events written in
            result["trial"] = {"state": state}
            result["trial"].update(screenshot(browser, session, args.trial_screenshot))
    finally:
        browser.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
