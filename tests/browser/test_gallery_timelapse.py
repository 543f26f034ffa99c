"""The gallery's "Make time-lapse" in Chromium: the current filters, a job, its progress, a playing <video>."""
from __future__ import annotations

import datetime as dt
import json
import re

from browser_helpers import TOKEN, open_gallery
from playwright.sync_api import expect

import models
from models import videos


def watch_console(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text) if message.type == "error" else None)
    return messages


def open_dialog(page, sample: str | None = None, **fields) -> None:
    page.click("#timelapse-open")
    expect(page.locator("#timelapse")).to_have_class(re.compile(r"\bis-active\b"))
    if sample:
        page.check(f'input[name="tl-sample"][value="{sample}"]')
    for name, value in fields.items():
        page.fill(f"#tl-{name.replace('_', '-')}", str(value))


def test_the_button_makes_a_time_lapse_of_the_filtered_captures_that_plays(page, live, artifacts):
    console = watch_console(page)
    open_gallery(page, "?device=pi-door")
    # Brute force: the first pi-door capture of each 6-hour interval from the first one.
    times = sorted(dt.datetime.fromisoformat(item["taken_at"].replace("Z", "+00:00")).timestamp()
                   for item in live.walk([("device", "pi-door")]))
    frames = len({int((t - times[0]) // 21600) for t in times})

    open_dialog(page, "every", every="6h", fps=8, width=320, height=240, token=TOKEN)
    expect(page.locator("#tl-scope")).to_contain_text("current filters")
    with page.expect_response(lambda r: r.url.endswith("/api/timelapses") and r.request.method == "POST") as posted:
        page.click("#tl-start")
    job = posted.value.json()
    assert posted.value.status == 202, job
    assert json.loads(posted.value.request.post_data) == {"device": ["pi-door"], "every": "6h", "fps": 8, "width": 320,
                                                          "height": 240}
    assert job["params"] == {"device": ["pi-door"], "every": "6h", "fps": 8.0, "width": 320, "height": 240}

    video = page.locator("#tl-video")
    expect(video).to_be_visible(timeout=30_000)
    expect(video).to_have_attribute("src", job["video_url"])
    page.wait_for_function("() => document.querySelector('#tl-video').readyState >= 2", timeout=15_000)
    # Chromium decodes it: size and length as asked. Then it plays.
    width, height, duration = page.evaluate("() => { const v = document.querySelector('#tl-video');"
                                            " return [v.videoWidth, v.videoHeight, v.duration]; }")
    assert (width, height) == (320, 240)
    assert abs(duration - frames / 8) < 0.01, (duration, frames)
    page.evaluate("() => { const v = document.querySelector('#tl-video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('#tl-video').currentTime > 0.2", timeout=10_000)
    status = live.api(f"/api/timelapses/{job['id']}")
    assert status["state"] == "done" and status["frames_done"] == frames
    expect(page.locator("#tl-result-text")).to_contain_text(f"{frames} frames, 320×240")
    page.screenshot(path=artifacts / "timelapse.png")
    download = page.locator("#tl-download")
    expect(download).to_be_visible()
    expect(download).to_have_attribute("href", job["video_url"])
    expect(download).to_have_attribute("download", re.compile(r"^timelapse-.*\.mp4$"))
    with page.expect_download() as saved:
        download.click()
    assert saved.value.suggested_filename.endswith(".mp4")
    # The page followed the job through the API; the token stays for the tab.
    polls = [r.url for r in page.requests if f"/api/timelapses/{job['id']}" in r.url and not r.url.endswith("/video")]
    assert polls, "the page never asked for the job's progress"
    assert page.evaluate("() => sessionStorage.getItem('pigallery.token')") == TOKEN
    page.keyboard.press("Escape")
    expect(page.locator("#timelapse")).not_to_have_class(re.compile(r"\bis-active\b"))
    assert not [m for m in console if "Content Security Policy" in m], console


def test_progress_shows_and_cancel_stops_the_job(page, live):
    open_gallery(page)
    # Every capture, upscaled to 4K: long enough to watch and cancel.
    open_dialog(page, width=3840, height=2160, token=TOKEN)
    with page.expect_response(lambda r: r.url.endswith("/api/timelapses") and r.request.method == "POST") as posted:
        page.click("#tl-start")
    job = posted.value.json()
    expect(page.locator("#tl-progress-text")).to_contain_text(re.compile(r"Encoding · \d+ / [\d,]+ frames"),
                                                              timeout=20_000)
    assert 0 <= float(page.get_attribute("#tl-progress", "value") or page.evaluate(
        "() => document.querySelector('#tl-progress').value")) < 1
    page.click("#tl-cancel")
    expect(page.locator("#tl-error")).to_have_text("Cancelled.")
    expect(page.locator("#tl-start")).to_be_visible()
    assert not models.Capture.db().exists(videos.job_key(job["id"]))


def test_a_refused_token_is_asked_for_again(page, live, artifacts):
    open_gallery(page)
    open_dialog(page, token="wrong")
    page.click("#tl-start")
    expect(page.locator("#tl-error")).to_contain_text("API token")
    page.screenshot(path=artifacts / "timelapse-form.png")
    expect(page.locator("#tl-token-field")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('pigallery.token')") is None
