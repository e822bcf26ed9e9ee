"""The built web book in a real browser, offline: every page loads, renders and links right.

The site is served from localhost and opened in Debian's Chromium (``apt-get install
chromium``) driven by Playwright; no browser is ever downloaded. Requests that would leave
localhost are recorded and blocked, so a page that still needs a CDN fails here exactly as
it would from a USB stick in a classroom. A screenshot of every page is saved under
``_build/screenshots/``. The link check needs no browser.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from tutorial_lib.tools import book

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("BOOK_BROWSER") or "/usr/bin/chromium")  # GitHub: Chrome
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "_build" / "screenshots"


def site_pages(html: Path) -> list[Path]:
    """Every page of the site: the book's own pages, not the vendored or static files."""
    return sorted(p for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith("_"))


# ---------------------------------------------------------------------- links
class _Links(HTMLParser):
    """Collects a page's ids and the href of its links."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_internal_link_and_anchor_resolves(built_book):
    broken = []
    for page in site_pages(built_book):
        for href in _parse(page).hrefs:
            if urlparse(href).scheme or href.startswith(("mailto:", "//")):
                continue  # external: not this test's business
            target, anchor = urldefrag(href)
            path = (page.parent / unquote(target)).resolve() if target else page
            if path.is_dir():
                path = path / "index.html"
            where = f"{page.relative_to(built_book)}: {href}"
            if not path.is_file():
                broken.append(f"{where} (no such file)")
            elif anchor and path.suffix == ".html" and unquote(anchor) not in _parse(path).ids:
                broken.append(f"{where} (no anchor #{anchor})")
    assert not broken, "broken links:\n" + "\n".join(broken[:40])


def test_site_loads_nothing_from_a_cdn(built_book):
    """No page references MathJax, RequireJS or the widget renderer on another host."""
    for page in site_pages(built_book):
        html = page.read_text(encoding="utf-8")
        remote = re.findall(r'<script[^>]+src="(https?://[^"]+)"', html)
        remote += re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="(https?://[^"]+)"', html)
        assert not remote, f"{page.relative_to(built_book)} loads {remote}"


# ---------------------------------------------------------------------- in the browser
@functools.lru_cache(maxsize=None)
def _gzipped(path: str, mtime: float) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=6)


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves the site as a static host does (GitHub Pages among them): text gzip-compressed
    when the browser accepts it, so a page's transfer size is what a reader downloads."""

    def do_GET(self):
        path = self.translate_path(self.path)
        if (path.endswith((".html", ".js", ".css", ".json", ".svg", ".txt", ".map"))
                and "gzip" in self.headers.get("Accept-Encoding", "") and os.path.isfile(path)):
            body = _gzipped(path, os.path.getmtime(path))
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: `apt-get install chromium` (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _check_page(browser, server: str, built: Path, page_path: Path, scheme: str = "light") -> list[str]:
    """Open one page; return what is wrong with it (an empty list when nothing is)."""
    rel = page_path.relative_to(built).as_posix()
    problems, outside, errors = [], [], []
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = context.new_page()

    def route(r):
        if r.request.url.startswith(server) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/{rel}", wait_until="load")
    html = page_path.read_text(encoding="utf-8")
    try:
        if 'class="math' in html:  # MathJax turns every formula into an mjx-container
            page.wait_for_selector("mjx-container", state="attached", timeout=30_000)  # some sit in hidden menus
        if "application/vnd.jupyter.widget-state+json" in html:
            page.wait_for_selector(".jupyter-widgets .widget-slider, .jupyter-widgets input, .widget-hslider, "
                                   ".jupyter-widgets select, .widget-dropdown", timeout=30_000)
    except Exception as exc:  # a timeout names what did not render
        problems.append(f"{rel}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    page.wait_for_load_state("networkidle")
    broken_imgs = page.evaluate(
        "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    if broken_imgs:
        problems.append(f"{rel}: images that did not load: {broken_imgs}")
    if rel.startswith("notebooks/"):
        url, branch = book.repository(ROOT)
        repo = url.removeprefix("https://github.com/")
        colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{rel[:-5]}.ipynb"
        if not page.locator(f'a[href="{colab}"]').count():
            problems.append(f"{rel}: no Colab launch link {colab}")
    if outside:
        problems.append(f"{rel}: requests left localhost: {sorted(set(outside))[:5]}")
    if errors:
        problems.append(f"{rel}: console errors: {errors[:5]}")
    shot = SCREENSHOTS / (rel[:-5] + ("" if scheme == "light" else f".{scheme}") + ".png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    context.close()
    return problems


def test_every_page_renders_offline(built_book, server, browser):
    pages = site_pages(built_book)
    assert len(pages) >= 5
    problems = [p for page in pages for p in _check_page(browser, server, built_book, page)]
    assert not problems, "\n".join(problems)


def test_a_chapter_in_dark_mode(built_book, server, browser):
    """Dark mode renders without errors (the screenshot is for a person to look at)."""
    chapter = sorted((built_book / "notebooks").glob("*.html"))[-1]
    assert _check_page(browser, server, built_book, chapter, scheme="dark") == []


# ---------------------------------------------------------------------- widgets with no kernel
_WATCH = """(root) => {
  // Before a control moves: note the state shown, the time of the reader's key press or
  // selection (captured on the explorer), and resolve once the explorer shows another state.
  const visible = () => [...root.querySelectorAll('.tl-state')].filter(e => e.offsetParent !== null)
                          .map(e => e.dataset.state);
  const before = visible();
  let start = null;
  const mark = () => { if (start === null) start = performance.now(); };
  for (const kind of ['keydown', 'change', 'input']) root.addEventListener(kind, mark, true);
  window.__tlMoved = new Promise(resolve => {
    const poll = () => {
      const now = visible();
      if (start !== null && now.length === 1 && now[0] !== before[0]) {
        resolve({before, after: now, ms: performance.now() - start});
      } else if (start !== null && performance.now() - start > 5000) {
        resolve({before, after: now, ms: null});
      } else { requestAnimationFrame(poll); }
    };
    requestAnimationFrame(poll);
  });
}"""


def _move(page, control) -> str:
    """Move ``control`` one step as a reader would (a key press on a slider's handle, the next
    option of a dropdown); return the label of the new value."""
    select = control.locator("select")
    if select.count():
        options = select.locator("option").all_inner_texts()
        index = select.evaluate("s => s.selectedIndex")
        label = options[(index + 1) % len(options)]
        select.select_option(label=label)
        return label.replace("\xa0", " ")  # ipywidgets shows an option's spaces as no-break spaces
    handle = control.locator(".noUi-handle, [role=slider]").first
    at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    handle.focus()
    page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
    return control.locator(".widget-readout").first.inner_text().strip()


def _state(key: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in key.split("; "))


def test_every_chapter_has_a_widget_that_answers_its_controls_offline(built_book, server, browser):
    """On every chapter page, with no kernel and the network blocked: move each control of each
    explorer and check that the page then shows the state drawn for the new value (its caption
    names it), within 50 ms, with no console error; and that the page with all it loads stays
    within 5 MB. Screenshots of each explorer before and after each move go to _build/screenshots."""
    problems, report = [], []
    chapters = sorted((built_book / "notebooks").glob("*.html"))
    assert len(chapters) == 11
    for chapter in chapters:
        rel = chapter.relative_to(built_book).as_posix()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors = []
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server) else r.abort())
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server}/{rel}", wait_until="load")
        try:
            page.wait_for_selector(".tl-explorer .tl-state", state="attached", timeout=30_000)
        except Exception:
            problems.append(f"{rel}: no explorer rendered")
            context.close()
            continue
        page.wait_for_load_state("networkidle")
        sent, weight = page.evaluate(  # bytes downloaded (gzip, as a static host serves) and unpacked
            "[performance.getEntriesByType('navigation'), performance.getEntriesByType('resource')].flat()"
            ".reduce((s, r) => [s[0] + r.transferSize, s[1] + r.decodedBodySize], [0, 0])")
        if sent > 5 * 1024 * 1024:
            problems.append(f"{rel}: the page and what it loads take {sent / 2**20:.1f} MB to download (> 5 MB)")
        explorers = page.locator(".tl-explorer")
        for i in range(explorers.count()):
            root = explorers.nth(i)
            root.scroll_into_view_if_needed()
            names = root.evaluate("r => [...r.querySelectorAll('[class*=tl-control-]')].map(c => "
                                  "[...c.classList].find(k => k.startsWith('tl-control-')).slice(11))")
            if not names:
                problems.append(f"{rel}: explorer {i} has no controls")
            for name in names:
                shot = SCREENSHOTS / "widgets" / f"{chapter.stem}.{i}.{name}"
                shot.parent.mkdir(parents=True, exist_ok=True)
                root.screenshot(path=f"{shot}.before.png")
                root.evaluate(_WATCH)
                label = _move(page, root.locator(f".tl-control-{name}"))
                moved = page.evaluate("window.__tlMoved")
                moved["label"] = label
                where = f"{rel}: explorer {i}, control {name!r}"
                if moved["ms"] is None or len(moved["before"]) != 1:
                    problems.append(f"{where}: the shown state did not change ({moved})")
                    continue
                old, new = _state(moved["before"][0]), _state(moved["after"][0])
                changed = {k for k in new if new[k] != old.get(k)}
                if changed != {name} or (moved["label"] is not None and new[name] != moved["label"]):
                    problems.append(f"{where}: moved to {moved['label']!r} but shows {moved['after'][0]!r}")
                if moved["ms"] > 50:
                    problems.append(f"{where}: the new state took {moved['ms']:.0f} ms (> 50 ms)")
                report.append(f"{rel} {i} {name}: {old[name]} -> {new[name]} in {moved['ms']:.1f} ms")
                root.screenshot(path=f"{shot}.after.png")
        if errors:
            problems.append(f"{rel}: console errors: {errors[:5]}")
        report.append(f"{rel}: {sent / 2**20:.2f} MB downloaded, {weight / 2**20:.2f} MB unpacked")
        context.close()
    (SCREENSHOTS / "widgets").mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "widgets" / "moves.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    assert not problems, "\n".join(problems)
