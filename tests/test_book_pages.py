"""The built book, opened in headless Chromium: math typeset, figures shown, theorem and exercise boxes, no errors.

Run after the book is built (`bash dev.sh test` does so). Screenshots land in _build/screenshots/.
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=15000"]


def _require_browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI for the rendered-page checks")
        pytest.skip("chromium is not installed")
    if not (HTML / "index.html").is_file():
        pytest.fail("the book is not built: run `bash dev.sh book` first")


def _chromium(*args):
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                             text=True, timeout=120)
    return out.stdout


def _dom(page):
    return _chromium("--dump-dom", (HTML / page).as_uri())


def _visible_text(dom):
    dom = re.sub(r"<(script|style|pre|code|mjx-assistive-mml)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"<[^>]+>", " ", dom)


CHAPTERS = ["book/gradients/tied_gradients.html"]
EXPERIMENT_CHAPTERS = {"book/bertolotti/xor.html": 10, "book/bertolotti/mlm_twins.html": 5,
                       "book/yamagiwa/norm_variance.html": 12, "book/token_probability/output_encoding.html": 9,
                       "book/press_wolf/language_models.html": 3}
"""Chapters that report training runs, with the number of figures each shows."""
PAGES = ["index.html", "book/notation.html", "book/scoreboard.html", *CHAPTERS, "book/theory/equivalences.html",
         "book/theory/should_i_tie.html", *EXPERIMENT_CHAPTERS]


@pytest.mark.parametrize("page", PAGES)
def test_page_has_no_error_boxes_or_raw_math(page):
    _require_browser()
    dom = _dom(page)
    assert "<mjx-container" in dom or page in ("index.html", "book/scoreboard.html"), f"{page}: math not typeset"
    text = _visible_text(dom)
    assert "$$" not in text, f"{page}: raw $$ in the rendered text"
    assert "\\begin{" not in text, f"{page}: raw LaTeX in the rendered text"
    assert "Traceback (most recent call last)" not in dom, f"{page}: a traceback is shown"
    assert "output stderr" not in dom, f"{page}: stderr output is shown"
    assert "Executing notebook failed" not in dom
    # A glue role that was not replaced (e.g. written inside $...$, where MyST does not parse roles) stays as source
    # text in the static page; MathJax would then typeset it as symbols, so look before MathJax runs.
    static = _visible_text((HTML / page).read_text(encoding="utf8"))
    assert "{glue" not in static, f"{page}: an unreplaced glue role: {static[static.find('{glue'):][:80]!r}"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_shows_figures_theorems_and_exercises(page):
    _require_browser()
    dom = _dom(page)
    images = re.findall(r'<img[^>]+src="([^"]+)"', dom)
    local = [src for src in images if not src.startswith(("http", "data:"))]
    assert len(local) >= 4, f"{page}: expected the chapter's figures, found {len(local)} images"
    for src in local:
        assert (HTML / page).parent.joinpath(src).resolve().is_file(), f"{page}: image {src} missing"
    assert dom.count("<mjx-container") > 20
    assert "theorem" in dom and "proof" in dom, f"{page}: no theorem/proof box"
    assert dom.count('class="admonition exercise') + dom.count("exercise admonition") >= 3 or dom.count(
        "exercise") >= 6, f"{page}: exercises missing"
    assert "dropdown" in dom, f"{page}: solutions are not in dropdowns"
    assert "holds" in dom, f"{page}: no claims table"


@pytest.mark.parametrize("page", EXPERIMENT_CHAPTERS)
def test_experiment_chapter_shows_its_figures_claims_and_exercises(page):
    _require_browser()
    dom = _dom(page)
    images = [src for src in re.findall(r'<img[^>]+src="([^"]+)"', dom) if not src.startswith(("http", "data:"))]
    assert len(images) >= EXPERIMENT_CHAPTERS[page], f"{page}: {len(images)} figures, expected the chapter's figures"
    for src in images:
        assert (HTML / page).parent.joinpath(src).resolve().is_file(), f"{page}: image {src} missing"
    assert dom.count("exercise") >= 4, f"{page}: exercises missing"
    assert "dropdown" in dom, f"{page}: solutions are not in dropdowns"
    assert "holds" in dom, f"{page}: no claims table"


def test_screenshots():
    _require_browser()
    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for page in PAGES:
        png = shots / (page.replace("/", "_").removesuffix(".html") + ".png")
        _chromium(f"--screenshot={png}", "--window-size=1280,2400", (HTML / page).as_uri())
        assert png.is_file() and png.stat().st_size > 20_000, f"no screenshot of {page}"


TEXT_COLUMN_PX = 740
"""Width of the book's text column (sphinx-book-theme) in a 1280-px-wide window, where figures are shown scaled down
to fit; measured on the screenshots."""
SAVEFIG_DPI = 150  # the package's savefig.dpi (tiedemb.plotting)


def _png_width(path: Path) -> int:
    with path.open("rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big")


@pytest.mark.parametrize("page", PAGES)
def test_figures_are_legible_at_the_text_width(page):
    """A figure wider than the text column is shown scaled down; 10-pt text (the figures' base size) must still be at
    least 10 px tall on screen, so a row of four panels side by side (15 inches wide) fails."""
    _require_browser()
    dom = _dom(page)
    for src in re.findall(r'<img[^>]+src="([^"]+\.png)"', dom):
        if src.startswith(("http", "data:")):
            continue
        width = _png_width((HTML / page).parent.joinpath(src).resolve())
        scale = min(1.0, TEXT_COLUMN_PX / width)
        assert 10 * SAVEFIG_DPI / 72 * scale >= 10, f"{page}: {src} is {width} px wide, 10-pt text shows at " \
                                                    f"{10 * SAVEFIG_DPI / 72 * scale:.1f} px"
