"""What the first screen of 48 tiles costs on the wire, next to the 48 full-size images."""
from __future__ import annotations

from browser_helpers import open_gallery, tile_ids

FIRST_PAGE = 48
TARGET = 0.05


def transferred(request) -> int:
    sizes = request.sizes()
    return sizes["responseBodySize"] + sizes["responseHeadersSize"]


def test_first_screen_is_a_small_fraction_of_the_full_images(browser, live, artifacts, capsys):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/New_York", base_url=live.url)
    page = context.new_page()
    finished = []
    page.on("requestfinished", lambda request: finished.append(request))
    open_gallery(page)
    first = live.api("/api/captures", [("limit", FIRST_PAGE)])["items"]
    assert tile_ids(page)[:FIRST_PAGE] == [item["id"] for item in first]
    page.wait_for_function("() => [...document.querySelectorAll('#grid img')].slice(0, 8).every(i => i.complete && i.naturalWidth)")
    page.screenshot(path=str(artifacts / "gallery.png"))

    # Bring every tile of the first page into view so all 48 thumbnails load.
    page.locator("#grid li").nth(FIRST_PAGE - 1).scroll_into_view_if_needed()
    page.wait_for_function(f"() => [...document.querySelectorAll('#grid img')].slice(0, {FIRST_PAGE}).every(i => i.complete && i.naturalWidth)")
    thumbs = {f"/api/captures/{item['id']}/thumbnail" for item in first}
    tiles = sum(transferred(r) for r in finished if any(r.url.endswith(t) for t in thumbs))
    listing = sum(transferred(r) for r in finished
                  if "/api/facets?" in r.url or ("/api/captures?" in r.url and "cursor=" not in r.url))
    shell_requests = [r for r in finished if "/api/" not in r.url]
    shell = sum(transferred(r) for r in shell_requests)
    # What the files weigh once decoded, and how the server encoded them for this browser.
    shell_files = sum(len(r.response().body()) for r in shell_requests)
    encodings = sorted({r.response().headers.get("content-encoding", "identity") for r in shell_requests})
    assert not [r.url for r in finished if r.url.endswith("/image")]

    # The same 48 full-size images, fetched by the same browser for comparison.
    urls = [item["image_url"] for item in first]
    page.evaluate("urls => Promise.all(urls.map(u => fetch(u).then(r => r.arrayBuffer())))", urls)
    full = sum(transferred(r) for r in finished if r.url.endswith("/image"))
    assert full >= sum(item["image_size"] for item in first)

    ratio = (tiles + listing) / full
    with capsys.disabled():  # shown in every run, not only with -s
        print(f"\nfirst screen of {FIRST_PAGE} tiles: thumbnails {tiles / 1e3:.0f} kB + listing/facets JSON "
              f"{listing / 1e3:.0f} kB = {(tiles + listing) / 1e3:.0f} kB; the same {FIRST_PAGE} full-size images "
              f"{full / 1e6:.2f} MB (avg {full / FIRST_PAGE / 1e3:.0f} kB); ratio {ratio:.1%} (target <= {TARGET:.0%})")
        print(f"page shell (HTML, CSS, JS; revalidated, not refetched, on later visits): {shell / 1e3:.0f} kB "
              f"transferred ({'/'.join(encodings)}; {shell_files / 1e3:.0f} kB uncompressed); "
              f"first visit including it: {(tiles + listing + shell) / full:.1%}")
    context.close()
    assert ratio <= TARGET
