"""Full-page screenshots of the built book in headless Chromium, one PNG per page, to look at before calling a
chapter done (`make screenshots`; Debian: `apt-get install chromium`).

Chromium's `--screenshot` flag captures only the window, so long pages would be cut. This script drives one
headless Chromium over the DevTools protocol instead: for each page it loads the file, waits for MathJax to finish
typesetting, measures the page, and captures all of it at `--width` CSS pixels.
Usage: `python book/screenshots.py [_build/html] [--out _build/screenshots] [--width 1280] [--pages GLOB ...]`
"""
from __future__ import annotations

import argparse
import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

# resolves with the page's height once `url` has loaded and MathJax has typeset it (0 while another page is shown)
WAIT_JS = """new Promise(resolve => {
  if (location.href !== %s) { resolve(0); return; }
  const done = () => setTimeout(() => resolve(document.documentElement.scrollHeight), 300);
  const typeset = () => (window.MathJax && MathJax.startup && MathJax.startup.promise)
    ? MathJax.startup.promise.then(done, done) : done();
  if (document.readyState === 'complete') typeset(); else window.addEventListener('load', typeset);
})"""


def find_chromium() -> str:
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'chrome'):
        if shutil.which(name): return shutil.which(name)
    raise SystemExit('no Chromium found: install it (Debian: apt-get install chromium) and run again')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


class Browser:
    "A headless Chromium driven over the DevTools protocol (one tab)."
    def __init__(self, width: int):
        self.width, self.port, self.profile = width, _free_port(), tempfile.mkdtemp(prefix='sparsadv-chromium-')
        self.proc = subprocess.Popen([find_chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
                                      f'--remote-debugging-port={self.port}', f'--user-data-dir={self.profile}',
                                      '--allow-file-access-from-files', f'--window-size={width},900', 'about:blank'],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                tabs = json.load(urllib.request.urlopen(f'http://127.0.0.1:{self.port}/json'))
                self.ws_url = next(t['webSocketDebuggerUrl'] for t in tabs if t.get('type') == 'page'); break
            except (OSError, StopIteration):
                time.sleep(0.1)
        else:
            self.close(); raise SystemExit('Chromium did not start its DevTools endpoint')
        self.n = 0

    async def connect(self): self.ws = await websocket_connect(self.ws_url, max_message_size=1 << 30)

    async def call(self, method: str, **params):
        self.n += 1
        self.ws.write_message(json.dumps({'id': self.n, 'method': method, 'params': params}))
        while True:
            msg = json.loads(await self.ws.read_message())
            if msg.get('id') == self.n:
                if 'error' in msg: raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get('result', {})

    async def shoot(self, page: Path, out: Path, max_height: int) -> int:
        # a short window first: a page's scrollHeight is never less than the window's height
        await self.call('Emulation.setDeviceMetricsOverride', width=self.width, height=900, deviceScaleFactor=1,
                        mobile=False)
        url = page.resolve().as_uri()
        await self.call('Page.navigate', url=url)
        height = 0
        for _ in range(100):   # until the new page has loaded
            r = await self.call('Runtime.evaluate', expression=WAIT_JS % json.dumps(url), awaitPromise=True,
                                returnByValue=True)
            height = int(r.get('result', {}).get('value') or 0)
            if height: break
            time.sleep(0.1)
        height = min(max(height, 900), max_height)
        await self.call('Emulation.setDeviceMetricsOverride', width=self.width, height=height, deviceScaleFactor=1,
                        mobile=False)
        shot = await self.call('Page.captureScreenshot', format='png', captureBeyondViewport=True,
                               clip={'x': 0, 'y': 0, 'width': self.width, 'height': height, 'scale': 1})
        out.write_bytes(base64.b64decode(shot['data']))
        return height

    def close(self):
        self.proc.terminate()
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('html', nargs='?', default='_build/html', help='the built book (default: _build/html)')
    ap.add_argument('--out', default='_build/screenshots', help='where the PNGs go (default: _build/screenshots)')
    ap.add_argument('--width', type=int, default=1280, help='window width in CSS pixels (default: 1280)')
    ap.add_argument('--max-height', type=int, default=30000, help='longest capture in pixels (default: 30000)')
    ap.add_argument('--pages', nargs='*', default=['nbs/*.html'], help='page globs under html (default: nbs/*.html)')
    args = ap.parse_args(argv)
    html, out = Path(args.html), Path(args.out)
    if not (html / 'index.html').exists(): raise SystemExit(f'no book at {html}: build it first (make book)')
    pages = sorted({p for g in args.pages for p in html.glob(g)})
    out.mkdir(parents=True, exist_ok=True)
    browser = Browser(args.width)

    async def run():
        await browser.connect()
        await browser.call('Page.enable')
        for p in pages:
            png = out / (str(p.relative_to(html).with_suffix('')).replace('/', '_') + '.png')
            h = await browser.shoot(p, png, args.max_height)
            print(f'{png}  ({args.width} x {h})', flush=True)
    try:
        IOLoop.current().run_sync(run, timeout=60 * max(1, len(pages)))
    finally:
        browser.close()
    print(f'{len(pages)} screenshots in {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
