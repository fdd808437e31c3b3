"""The page at `/` in a real browser (Playwright driving Debian's chromium) against a real uvicorn
server: type a sentence, upload a clip, see the timeline and the probabilities; see a refusal."""
from __future__ import annotations

import pytest

from affectbench.serve import Limits, create_app
from conftest import shared_data
from serve_helpers import uvicorn_server
from serve_models import tiny_models
from test_leaderboard import BROWSER_ARGS, CHROMIUM, _browser


@pytest.mark.browser
def test_page_in_a_real_browser(tmp_path):
    sync_playwright = _browser()
    models = tiny_models()
    wav = shared_data("emodb") / "wav" / "03a01Fa.wav"
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    app = create_app(models, Limits(), tmp_dir=tmp_path)
    with uvicorn_server(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{base}/")
        assert page.locator("#model option").count() == 3  # automatic + tone + text

        # a sentence: one row, its probabilities as bars, the label the most probable class
        page.fill("#text", "What a wonderful surprise, thank you so much!")
        page.click("#go")
        page.wait_for_selector("#segments tbody tr.segment")
        probs = page.locator("#segments tbody tr.segment .prob").evaluate_all(
            "ps => ps.map(p => [p.dataset.label, parseFloat(p.dataset.p)])")
        assert {k for k, _ in probs} == set(models["text"].labels)
        assert abs(sum(v for _, v in probs) - 1) < 0.01
        best = max(probs, key=lambda kv: kv[1])[0]
        assert page.locator("#segments td.label").inner_text() == best

        # a clip: the timeline draws one block per speech segment, labelled as in the table
        page.fill("#text", "")
        page.set_input_files("#file", str(wav))
        page.click("#go")
        page.wait_for_function("document.getElementById('status').textContent === 'done' && "
                               "document.querySelectorAll('#timeline .seg').length > 0")
        segs = page.locator("#timeline .seg").evaluate_all("ss => ss.map(s => s.dataset.label)")
        rows = page.locator("#segments td.label").all_inner_texts()
        assert segs == rows and set(rows) <= set(models["tone"].labels)
        assert "segment(s)" in page.locator("#summary").inner_text()

        # a refusal is shown, not swallowed
        page.set_input_files("#file", str(empty))
        page.click("#go")
        page.wait_for_selector("#error:not([hidden])")
        assert "422" in page.locator("#error").inner_text() and "empty" in page.locator("#error").inner_text()
        browser.close()
    assert all(u.startswith(base) for u in requests), requests  # nothing fetched from elsewhere
