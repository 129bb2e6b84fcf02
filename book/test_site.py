"""Test of the built website in real headless Chromium, and of its HTML files: both sites, the English one
(book/_build/html) and the Chinese one (book/_build/html/zh), every page of each.

Run by `bash course.sh book` after the build; never by `bash course.sh test` (pytest's testpaths are tests/ and
notebooks/). By hand, after a build:

    .venv/bin/python -m pytest book/test_site.py -v

For every page of the table of contents, Chromium (the system's, found as $CHROMIUM or `chromium` on the PATH;
Playwright drives it and never downloads a browser) loads the page from a local web server with every request
to another host refused, then checks that the page loaded, that every image on it decoded, that its equations
were typeset by the vendored MathJax, that no cell shows an error or a traceback, that no script failed and no
file of the site is missing; and it writes a full-page screenshot to book/_build/screenshots/ for a person to
look at (the Chinese pages' with a zh__ prefix). On a Chinese page it also asks Chromium which fonts drew the
title: a CJK font, not empty boxes. Every page's link to the same page in the other language must resolve, and
that page must link back. The static checks read the HTML files: no CDN script or stylesheet, the launch, repository and Colab
links of this project, the copyright line.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
BOOK = REPO / "book"
HTML = BOOK / "_build" / "html"
SCREENSHOTS = BOOK / "_build" / "screenshots"
REPOSITORY = "https://github.com/fsl-course/fsl-course"
COLAB = "https://colab.research.google.com/github/fsl-course/fsl-course/blob/main/"
BINDER = "https://mybinder.org/v2/gh/fsl-course/fsl-course/main?urlpath=lab/tree/"
PlaywrightTimeout = TimeoutError  # replaced by Playwright's own when the browser starts
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "cdnjs.com", "code.jquery.com",
             "fonts.googleapis.com", "polyfill.io")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  # offline: no host but the local server resolves
                  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]


# The two sites: English at book/_build/html, Chinese at book/_build/html/zh, each from its table of contents
# (another English one only for a partial build made by hand with --toc: FSL_COURSE_BOOK_TOC).
SITES = {"en": (HTML, Path(os.environ.get("FSL_COURSE_BOOK_TOC") or BOOK / "_toc.yml")),
         "zh": (HTML / "zh", BOOK / "zh" / "_toc.yml")}
if os.environ.get("FSL_COURSE_BOOK_TOC"):
    del SITES["zh"]  # a partial English build has no Chinese site beside it
CJK = re.compile(r"[\u4e00-\u9fff]")


def toc_docnames(toc: Path) -> list[str]:
    """Every document of a table of contents, root first, in reading order."""
    data = yaml.safe_load(toc.read_text())
    names = [data["root"]]
    for part in data.get("parts", []):
        for chapter in part.get("chapters", []):
            names.append(chapter["file"])
            names.extend(section["file"] for section in chapter.get("sections", []))
    return names


#: ``(site, docname)`` of every page of both sites; ``site/docname`` is the test id
PAGES = [pytest.param(site, d, id=f"{site}/{d}") for site, (_, toc) in SITES.items() for d in toc_docnames(toc)]
NOTEBOOKS = [p for p in PAGES if p.values[1].startswith("notebooks/")]


def page_path(docname: str, site: str = "en") -> Path:
    return SITES[site][0] / f"{docname}.html"


@pytest.fixture(scope="session", autouse=True)
def built_site():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built site at {HTML}: run `bash course.sh book` first")
    missing = [p.id for p in PAGES if not page_path(p.values[1], p.values[0]).is_file()]
    assert not missing, f"pages of the tables of contents that were not built: {missing}"


# ---- static checks of the HTML files ---------------------------------------------------------------------------

class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.styles, self.links, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "preload", "modulepreload", "icon"):
            self.styles.append(a["href"])
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])

    def handle_data(self, data):
        self.text.append(data)


@functools.cache
def parsed(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def all_html_files() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts)


def test_no_cdn_or_remote_scripts_and_styles():
    """Offline: every script and stylesheet the pages load is a file of the site (no CDN is left)."""
    remote = {}
    for path in all_html_files():
        page = parsed(path)
        for url in page.scripts + page.styles:
            if urlparse(url).scheme in ("http", "https") or url.startswith("//"):
                remote.setdefault(url, path.relative_to(HTML).as_posix())
    assert not remote, f"pages load remote files (first page that does): {remote}"
    text = "\n".join(p.read_text(encoding="utf-8") for p in all_html_files())
    for host in CDN_HOSTS:
        assert not re.search(rf"<(script|link)[^>]+{re.escape(host)}", text), f"a page loads from {host}"


def test_mathjax_and_widget_manager_are_vendored():
    static = HTML / "_static"
    for path in ("mathjax/tex-mml-chtml.js", "html-manager/embed-amd.js", "requirejs/require.js"):
        assert (static / path).is_file(), f"_static/{path} is missing: was book/vendor.sh run?"
    math_pages = [p for p in all_html_files() if 'class="math' in p.read_text(encoding="utf-8")]
    assert math_pages, "no page has an equation"
    for path in math_pages:
        assert any(urlparse(s).path.endswith("_static/mathjax/tex-mml-chtml.js") for s in parsed(path).scripts), \
            f"{path.relative_to(HTML)} has equations but does not load the vendored MathJax"


@pytest.mark.parametrize("site, docname", NOTEBOOKS)
def test_launch_and_repository_buttons_point_at_this_project(site, docname):
    links = parsed(page_path(docname, site)).links
    assert f"{COLAB}{docname}.ipynb" in links, f"no Colab launch link for {docname}"
    assert f"{BINDER}{docname}.ipynb" in links, f"no Binder launch link for {docname}"
    assert REPOSITORY in links or f"{REPOSITORY}/" in links, "no repository button"
    assert any(link.startswith(f"{REPOSITORY}/issues") for link in links), "no issues button"


def language_link(path: Path) -> Path:
    """The file that a page's link to the other language (book/_ext/language_links.py) points at."""
    found = re.findall(r'<a class="language-link" hreflang="[^"]+" lang="[^"]+" href="([^"]+)"',
                       path.read_text(encoding="utf-8"))
    assert len(found) == 1, f"{path.relative_to(HTML)}: {len(found)} links to the other language, expected 1"
    return (path.parent / found[0]).resolve()


@pytest.mark.parametrize("site, docname", PAGES)
def test_language_link_leads_to_the_same_page_and_back(site, docname):
    here = page_path(docname, site).resolve()
    there = language_link(here)
    assert there.is_file(), f"{site}/{docname} links to {there}, which was not built"
    other = "zh" if site == "en" else "en"
    assert there.is_relative_to(SITES[other][0].resolve()), f"{site}/{docname} links outside the {other} site"
    if other == "en":
        assert not there.is_relative_to(SITES["zh"][0].resolve()), f"{docname}: its English link is Chinese"
    assert language_link(there) == here, f"{there} does not link back to {here}"


def test_copyright_line():
    footer = " ".join(" ".join(parsed(HTML / "book" / "intro.html").text).split())
    assert "the fsl-course authors" in footer and "© Copyright 2026" in footer, footer[-400:]


# ---- the site in a real browser ----------------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser") \
        or shutil.which("google-chrome")
    if not path:
        pytest.fail("no Chromium: install it (`apt-get install -y chromium`) or set CHROMIUM to its path")
    return path


@pytest.fixture(scope="session")
def browser():
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[book]' installs Playwright")
    global PlaywrightTimeout
    PlaywrightTimeout = sync_api.TimeoutError
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# Run in the page once it has loaded: wait for MathJax and for every image, then report what is on the page.
INSPECT = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  const text = el => (el.innerText || el.textContent || '');
  const outputs = Array.from(document.querySelectorAll('.cell_output, .output'));
  return {
    title: document.title,
    images: Array.from(document.images).map(img => ({src: img.currentSrc || img.src, w: img.naturalWidth})),
    mathSources: document.querySelectorAll('.math, span.math, div.math').length,
    mathUntypeset: Array.from(document.querySelectorAll('.math, span.math, div.math'))
        .filter(el => !el.querySelector('mjx-container') && el.tagName !== 'MJX-CONTAINER').length,
    mjx: document.querySelectorAll('mjx-container').length,
    mathErrors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
    errorOutputs: document.querySelectorAll('.output.error, .output.traceback, .cell_output .traceback').length,
    tracebacks: outputs.filter(el => /Traceback \\(most recent call last\\)/.test(text(el)))
        .map(el => text(el).slice(0, 300)),
    systemMessages: Array.from(document.querySelectorAll('.system-message, .problematic'))
        .map(el => text(el).slice(0, 200)),
    exercises: document.querySelectorAll('.exercise').length,
    solutions: document.querySelectorAll('.solution').length,
    hiddenSolutions: document.querySelectorAll('.solution.dropdown, .solution.toggle-hidden, details.solution').length,
    widgetStates: document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]').length,
    widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
    clippedOutputs: Array.from(document.querySelectorAll('.bd-article .cell_output pre, .bd-article table, .bd-article .pst-scrollable-table-container'))
        .filter(el => el.scrollWidth > el.clientWidth + 2 || el.getBoundingClientRect().right > window.innerWidth)
        .map(el => text(el).split('\\n').reduce((a, l) => l.length > a.length ? l : a, '').slice(0, 100)),
    widgetsRendered: document.querySelectorAll('.jupyter-widgets.widget-subarea > *, .widget-subarea > .jupyter-widgets, .jupyter-widgets:not(.widget-subarea)').length,
  };
}
"""


def notebook_exercises(docname: str) -> int:
    """How many sphinx-exercise exercises the notebook's markdown holds (0 until its exercises are converted)."""
    import json
    nb = json.loads((REPO / f"{docname}.ipynb").read_text(encoding="utf-8"))
    return sum(len(re.findall(r"^`{3,}\{exercise(-start)?\}", "".join(c["source"]), re.M))
               for c in nb["cells"] if c["cell_type"] == "markdown")


def platform_fonts(page, selector: str) -> list[str]:
    """The fonts Chromium really used for the text of the first element matching ``selector`` (DevTools'
    CSS.getPlatformFontsForNode), as ``family (glyphs)``."""
    cdp = page.context.new_cdp_session(page)
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    if not node:
        return []
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [f"{f['familyName']} ({f['glyphCount']})" for f in fonts]


@pytest.mark.parametrize("site, docname", PAGES)
def test_page_in_chromium(browser, server, site, docname):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1,
                                  service_workers="block")
    remote, failed, script_errors, console_errors, in_flight = [], [], [], [], {}
    host = urlparse(server).netloc

    def on_request(r):
        if urlparse(r.url).netloc == host:
            in_flight[r.url] = True
        elif not r.url.startswith(("data:", "blob:", "about:")):
            remote.append(r.url)  # Chromium cannot resolve it anyway (--host-resolver-rules), but say so

    page = context.new_page()
    page.on("request", on_request)
    page.on("requestfinished", lambda r: in_flight.pop(r.url, None))
    page.on("requestfailed", lambda r: (in_flight.pop(r.url, None),
                                        failed.append(f"{r.url} ({r.failure})") if urlparse(r.url).netloc == host
                                        else None))
    page.on("pageerror", lambda e: script_errors.append(str(e)))
    page.on("console", lambda m: console_errors.append(f"{m.text} [{m.location.get('url', '')}]")
            if m.type == "error" else None)
    page.on("response", lambda r: failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None)
    try:
        response = page.goto(f"{server}/{'' if site == 'en' else 'zh/'}{docname}.html", wait_until="load",
                             timeout=120_000)
        assert response is not None and response.ok, f"{docname}: HTTP {response and response.status}"
        try:  # let late requests (MathJax components, widget modules) finish; the checks below wait for real
            page.wait_for_load_state("networkidle", timeout=30_000)
        except PlaywrightTimeout:
            pass
        info = page.evaluate(INSPECT)
        if info["widgetViews"]:  # the widget manager renders after load
            page.wait_for_function("document.querySelectorAll('.jupyter-widgets').length > 0", timeout=60_000)
            info = page.evaluate(INSPECT)
        for _ in range(60):  # anything still loading after the checks gets another minute
            if not in_flight:
                break
            page.wait_for_timeout(1000)
        title = page.inner_text(".bd-article h1") if page.query_selector(".bd-article h1") else ""
        fonts = platform_fonts(page, ".bd-article h1") if site == "zh" else []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = ("" if site == "en" else f"{site}__") + docname.replace("/", "__")
        page.screenshot(path=SCREENSHOTS / f"{shot}.png", full_page=True)
    finally:
        context.close()

    problems = []
    if site == "zh":  # a Chinese page: its title is Chinese, drawn in a CJK font (fonts-noto-cjk), not boxes
        if not CJK.search(title):
            problems.append(f"the Chinese page's title has no Chinese: {title!r}")
        elif not any("CJK" in f for f in fonts):
            problems.append(f"the title {title!r} is not drawn in a CJK font; fonts used: {fonts}")
    if remote:
        problems.append(f"requests to other hosts (refused; the site must work offline): {sorted(set(remote))}")
    if failed:
        problems.append(f"files that failed to load: {failed}")
    if in_flight:
        problems.append(f"requests that never finished: {sorted(in_flight)}")
    if script_errors:
        problems.append(f"script errors: {script_errors}")
    if console_errors:
        problems.append(f"console errors: {console_errors}")
    broken = [i["src"][:120] for i in info["images"] if not i["w"]]
    if broken:
        problems.append(f"images that did not load: {broken}")
    if info["mathSources"] and (info["mathUntypeset"] or not info["mjx"]):
        problems.append(f"{info['mathUntypeset']} of {info['mathSources']} equations not typeset by MathJax")
    if info["mathErrors"]:
        problems.append(f"{info['mathErrors']} equations with MathJax errors")
    if info["errorOutputs"] or info["tracebacks"]:
        problems.append(f"cells show errors: {info['errorOutputs']} error outputs, tracebacks {info['tracebacks']}")
    if info["systemMessages"]:
        problems.append(f"build problems shown on the page: {info['systemMessages']}")
    if docname.startswith("notebooks/"):
        if not any("/_images/" in i["src"] or i["src"].startswith("data:image") for i in info["images"]):
            problems.append("a chapter without a single figure")
        expected = notebook_exercises(docname)
        if info["exercises"] < expected:
            problems.append(f"{info['exercises']} exercises rendered, the notebook has {expected}")
        if info["solutions"] and info["hiddenSolutions"] < info["solutions"]:
            problems.append(f"only {info['hiddenSolutions']} of {info['solutions']} solutions are click-to-reveal")
    if info["clippedOutputs"]:
        problems.append(f"printed output or tables cut off at the page's edge (1280 px): {info['clippedOutputs']}")
    if info["widgetViews"] and not info["widgetsRendered"]:
        problems.append(f"{info['widgetViews']} widget outputs, none rendered by the widget manager")
    assert not problems, f"{docname} ({info['title']}):\n  " + "\n  ".join(problems)
