"""The studio page in a real headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from inceptionism.featurevis import FeatureVisConfig
from inceptionism.images import read_metadata
from inceptionism.service import ServiceSettings, serve_in_background

from .support import in_ci

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if in_ci() and not Path(CHROMIUM).is_file():  # in CI a skipped browser test guards nothing
    raise RuntimeError("CI needs Debian's chromium for the browser tests; scripts/setup.sh installs it as root")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="the studio's page in a browser: needs Debian's "
                                "chromium (scripts/setup.sh installs it as root, or: sudo apt-get install chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    settings = ServiceSettings(
        data_dir=tmp_path_factory.mktemp("studio"), workers=1, thumbnail=FeatureVisConfig(size=48, steps=8, seed=0)
    )
    with serve_in_background(settings) as url:
        yield url


def wait_until(page, expression: str, timeout: float = 30.0) -> None:
    """Poll ``expression`` in the page until it is true. (Playwright's wait_for_function
    compiles its predicate in the page, which the studio's Content-Security-Policy forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


def watch(page) -> list[str]:
    """Collect the page's script errors and Content-Security-Policy violations."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return errors


def opened(browser, url: str):
    """A new page of the studio at ``url``, loaded (its settings, models and layers), and the
    list its script errors go to."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch(page)
    page.goto(url)
    page.wait_for_selector("body[data-ready]")
    return page, errors


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_upload_choose_a_preset_dream_and_download(server: str, browser, examples: Path, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    errors = watch(page)
    page.goto(server)
    page.wait_for_selector("body[data-ready]")  # the page has loaded its settings, models and layers
    page.set_input_files("#image", str(examples / "chelsea.jpg"))
    page.click("#presets label:has-text('subtle')")
    assert page.input_value("#steps") == "8"  # the preset moved the sliders
    page.click("summary:has-text('Advanced')")
    page.fill("#lapnorm_levels", "3")  # controls made from the server's parameter declarations
    page.select_option("#octave_mode", "recursive")
    page.click("#start")

    wait_until(page, "document.getElementById('progress').value > 0", timeout=60)
    assert page.inner_text("#status").startswith(("Dreaming", "Done"))
    page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    assert page.inner_text("#status").startswith("Done")
    wait_until(page, "document.getElementById('after').naturalWidth > 0")
    assert "subtle" in page.inner_text("#result-caption")
    assert page.locator("#history li").count() == 1

    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    image = Image.open(saved)
    assert image.format == "PNG" and image.size == (451, 300)
    meta = read_metadata(saved)
    assert meta["config"]["preset"] == "subtle" and meta["config"]["steps"] == 8
    assert meta["config"]["lapnorm_levels"] == 3 and meta["config"]["octave_mode"] == "recursive"
    assert meta["input"]["name"] == "chelsea.jpg"
    assert not errors, errors


def test_the_form_offers_every_declared_studio_parameter(server: str, browser) -> None:
    from inceptionism.config import dream_params

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server)
    page.wait_for_selector("body[data-ready]")
    for p in dream_params("studio"):
        assert page.locator(f"#{p.name}").count() == 1 or p.name in ("preset", "size"), f"no control for {p.name}"
    assert page.locator("#lapnorm_levels").get_attribute("max") == "12"  # the declared bound
    assert page.locator("#fields-advanced label").count() >= 9


def test_the_channel_picker_grows_pictures_with_a_form_made_from_visualize_s_declarations(server: str, browser,
                                                                                          tmp_path: Path) -> None:
    from inceptionism.command_config import VisualizeConfig
    from inceptionism.doors.form import form

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch(page)
    page.goto(server)
    page.wait_for_selector("body[data-ready]")
    for row in form("studio", of=VisualizeConfig):  # one control a declared parameter, none written by hand
        assert page.locator(f"#vis-{row['name']}").count() == 1, row["name"]
    page.select_option("#layers", "blocks.1")
    page.click("#pick-channel")
    wait_until(page, "document.querySelectorAll('#channel-grid button').length > 3", timeout=120)
    page.click("#channel-grid button:nth-child(4)")
    page.click("#grow summary")
    assert page.input_value("#grow-targets") == "3"
    page.fill("#grow-targets", "3,3+5")
    page.select_option("#vis-param", "fft")
    page.fill("#vis-steps", "6")
    page.evaluate("(() => { const s = document.getElementById('vis-size'); s.value = 64; "
                  "s.dispatchEvent(new Event('input')); })()")
    page.click("#grow-button")
    wait_until(page, "!document.getElementById('grow-result').hidden", timeout=120)
    assert "Could not" not in page.inner_text("#grow-caption"), page.inner_text("#grow-caption")
    wait_until(page, "document.querySelector('#grow-result img').naturalWidth > 0")
    assert page.evaluate("document.querySelector('#grow-result img').naturalWidth") == 2 * 64
    page.locator("#grow").screenshot(path=str(tmp_path / "grow.png"))
    page.fill("#grow-targets", "3*2")  # a bad target: one line on the page, the studio goes on
    page.press("#grow-targets", "Enter")  # Enter grows pictures: it does not submit the dream form around it
    wait_until(page, "document.getElementById('grow-caption').textContent.includes('Could not')")
    assert "has a weight" in page.inner_text("#grow-caption")
    assert page.locator("#progress").is_hidden() and page.evaluate("localStorage.getItem('inceptionism.history')") \
        in (None, "[]")  # no dream was started
    page.click("#channel-grid button:nth-child(5)")  # another channel: the last one's pictures go
    assert page.locator("#grow-result").is_hidden() and page.input_value("#grow-targets") == "4"
    assert errors == []


def test_channel_picker_and_keyboard_reach(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server)
    page.wait_for_selector("body[data-ready]")
    page.select_option("#layers", "blocks.1")
    page.click("#pick-channel")
    wait_until(
        page,
        "[...document.querySelectorAll('#channel-grid img')].slice(0, 3).every(i => i.complete && i.naturalWidth > 0)",
        timeout=120,
    )
    page.click("#channel-grid button:nth-child(3)")
    assert page.input_value("#channel") == "2"
    page.click("#channel-variants-button")  # several pictures of the chosen channel, on request
    wait_until(page, "!document.getElementById('channel-variants').hidden", timeout=120)
    assert page.evaluate("document.querySelector('#channel-variants img').naturalWidth") == 4 * 48
    assert "/channels/2/variants" in page.evaluate("document.querySelector('#channel-variants img').src")
    assert page.locator("#channel-variants-button").is_hidden()

    page.goto(server)
    page.wait_for_selector("body[data-ready]")
    for _ in range(80):  # the Dream button is reachable with the keyboard alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "start":
            break
    else:
        pytest.fail("Tab never reached the Dream button")


def test_fits_a_phone_screen(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(server)
    page.wait_for_selector("body[data-ready]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    form, stage = page.locator("#dream-form").bounding_box(), page.locator("#stage").bounding_box()
    assert stage["y"] >= form["y"] + form["height"] - 1  # stacked, not side by side


def test_the_picker_shows_a_channels_dataset_examples_after_being_told_to_wait(tmp_path, browser, examples,
                                                                              monkeypatch):
    """The scan of the photos is counted with the pictures being drawn, so the first answer may
    be 503: the page asks again when told, and shows the strip."""
    from inceptionism.doors.limits import ApiError
    from inceptionism.service.inspector import Inspector

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("chelsea", "coffee", "rocket"):
        (photos / f"{name}.jpg").write_bytes((examples / f"{name}.jpg").read_bytes())
    real, refused = Inspector.examples, []

    async def busy_once(self, *args, **kwargs):
        if not refused:
            refused.append(args)
            raise ApiError(503, "busy", headers={"Retry-After": "1"})
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(Inspector, "examples", busy_once)
    settings = ServiceSettings(data_dir=tmp_path / "studio", workers=1, examples=photos,
                               thumbnail=FeatureVisConfig(size=48, steps=8, seed=0))
    with serve_in_background(settings) as url:
        page, errors = opened(browser, url)
        page.select_option("#layers", "blocks.1")
        page.click("#pick-channel")
        wait_until(page, "document.querySelectorAll('#channel-grid button').length > 3", timeout=60)
        page.click("#channel-grid button:nth-child(4)")
        wait_until(page, "!document.getElementById('channel-examples').hidden", timeout=120)
        assert page.evaluate("document.querySelector('#channel-examples img').naturalWidth") == 3 * 96
        assert refused and not errors, errors


def test_the_live_page_dreams_a_camera_and_saves_a_snapshot_with_its_recipe(server: str, browser,
                                                                            tmp_path: Path) -> None:
    """Chromium's fake camera (a moving test pattern) dreamed live: dreams arrive, differ from
    the camera's frames, the rate is shown, and a snapshot comes down with its recipe."""
    with_camera = browser.browser_type.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    try:
        page = with_camera.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        errors = watch(page)
        page.goto(server)
        page.wait_for_selector("body[data-ready]")
        assert page.is_visible("#welcome img")  # a newcomer sees a dream before choosing anything
        page.click("#tab-live")
        page.click("#cam-start")
        wait_until(page, "Number(document.getElementById('cam-stats').dataset.fps || 0) > 0.5", timeout=60)
        page.fill("#cam-steps", "2")
        page.dispatch_event("#cam-steps", "input")  # a change while it runs, taken up by the server
        wait_until(page, "(document.getElementById('cam-stats').dataset.params || '').includes('\"frame_steps\":2')",
                   timeout=10)
        fps_before = float(page.evaluate("document.getElementById('cam-stats').dataset.fps"))
        assert fps_before > 0
        difference = page.evaluate("""() => {
            const video = document.getElementById('cam-video'), dream = document.getElementById('cam-dream');
            const c = document.createElement('canvas'); c.width = dream.naturalWidth; c.height = dream.naturalHeight;
            const g = c.getContext('2d');
            g.drawImage(video, 0, 0, c.width, c.height); const a = g.getImageData(0, 0, c.width, c.height).data;
            g.drawImage(dream, 0, 0, c.width, c.height); const b = g.getImageData(0, 0, c.width, c.height).data;
            let sum = 0; for (let i = 0; i < a.length; i += 4) sum += Math.abs(a[i] - b[i]);
            return sum / (a.length / 4);
        }""")
        assert difference > 5, difference  # dreamed, not the camera's frame
        page.screenshot(path=str(tmp_path / "live.png"))
        with page.expect_download() as download:
            page.click("#cam-snapshot")
        saved = tmp_path / "snapshot.png"
        download.value.save_as(saved)
        page.click("#cam-stop")
        assert not errors, errors
    finally:
        with_camera.close()
    config = read_metadata(saved)["config"]
    assert config["max_size"] == 320 and config["step_size"] == 0.03


def test_a_layers_concepts_are_shown_and_a_photo_is_dreamed_towards_one(browser, model, examples: Path,
                                                                         tmp_path: Path) -> None:
    """serve --concepts: the chosen layer's concepts appear under it; choosing one makes it what
    the dream climbs (its term in the dream's recipe)."""
    from inceptionism.concept_report import concepts

    (tmp_path / "concepts").mkdir()
    found = concepts("blocks.5.0.bn1", examples, tmp_path / "concepts" / "four", model=model, k=3, samples=800,
                     top=2, size=48, steps=4, seed=1)
    settings = ServiceSettings(data_dir=tmp_path / "studio", workers=1, concepts=tmp_path / "concepts")
    with serve_in_background(settings) as url:
        page, errors = opened(browser, url)
        page.select_option("#layers", "blocks.5.0.bn1")
        page.wait_for_selector("#concepts:not([hidden])")
        page.click("#concepts summary")
        assert page.locator("#concept-grid button").count() == 3
        first = page.locator("#concept-grid button").nth(0)
        wait_until(page, "[...document.querySelectorAll('#concept-grid img')].every((i) => i.naturalWidth > 0)")
        first.click()
        assert "concept" in page.inner_text("#concept-chosen") and first.get_attribute("aria-selected") == "true"
        wait_until(page, "document.querySelector('#concept-examples img').naturalWidth > 0")
        page.set_input_files("#image", str(examples / "chelsea.jpg"))
        page.click("#presets label:has-text('subtle')")
        page.click("#start")
        page.wait_for_selector("#result:not([hidden])", timeout=120_000)
        assert page.inner_text("#status").startswith("Done")
        term = f"concept:{(tmp_path / 'concepts' / 'four' / 'dictionary.safetensors').resolve()}:"
        assert term in page.inner_text("#result-caption")
        page.click("#concept-clear")
        assert page.evaluate("collectParams().layers") == "blocks.5.0.bn1"
        assert not errors, errors
    assert {c.index for c in found.concepts} == {0, 1, 2}
