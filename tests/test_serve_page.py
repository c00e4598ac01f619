"""The page `cnnzoo serve` answers at `/`, driven in a real headless Chromium.

The browser test needs Selenium (`pip install selenium`) and Debian's `chromium` and
`chromium-driver`; where one is missing it skips and says which. The JSON endpoint the
page calls is also tested without a browser.
"""

import base64
import gzip
import json
import shutil
import threading
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

import cnnzoo
from cnnzoo.export import export_saved_model
from cnnzoo.serve import make_server

SAMPLE = "cnnzoo/data/samples/fashion_mnist_sample/t10k-images-idx3-ubyte.gz"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def model():
    model = cnnzoo.build("tutorial_5x5")
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(scale=0.1, size=w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def _serve(model, base, *, keras_beside):
    export_saved_model(model, base, version=1, class_names=[
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
        "Bag", "Ankle boot"], metadata={"dataset": "fashion_mnist", "test_accuracy": 0.9})
    if keras_beside:
        model.save(base / "model.keras")
    else:  # An export made before exports carried their Keras model.
        (base / "1" / "assets" / "cnnzoo_model.keras").unlink()
    server = make_server(base, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def fashion_png(tmp_path):
    with gzip.open(SAMPLE) as file:
        pixels = np.frombuffer(file.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)[3]
    path = tmp_path / "test_image.png"
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    return path


def _post(url, body):
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _root(server):
    return server.url.split("/v1/")[0]


def test_explain_endpoint_agrees_with_the_rest_api(model, tmp_path, fashion_png):
    server = _serve(model, tmp_path / "served", keras_beside=True)
    try:
        b64 = base64.b64encode(fashion_png.read_bytes()).decode()
        rest = _post(server.url + ":predict", {"instances": [{"b64": b64}]})["predictions"][0]
        answer = _post(_root(server) + "/explain", {"b64": b64})
        assert answer["top"][0]["class"] == rest["class_names"] == answer["class_name"]
        order = np.argsort(rest["probabilities"])[::-1][:5]
        assert [a["probability"] for a in answer["top"]] == pytest.approx(
            [rest["probabilities"][i] for i in order])
        assert answer["layer"] == "pool2" and answer["note"] is None
        png = base64.b64decode(answer["overlay"].split(",", 1)[1])
        assert tf.io.decode_png(png).shape == (28, 28, 3)
        with urllib.request.urlopen(_root(server) + "/", timeout=60) as response:
            assert response.headers["Content-Type"].startswith("text/html")
            page = response.read().decode()
        card = json.loads(page.split('type="application/json">')[1].split("</script>")[0])
        assert card["parameters"] == model.count_params() == 28_938
        assert card["test_accuracy"] == 0.9 and card["input_shape"] == [28, 28, 1]
    finally:
        server.shutdown()
        server.server_close()


def test_an_older_export_without_a_keras_file_the_page_says_why(model, tmp_path, fashion_png):
    server = _serve(model, tmp_path / "served", keras_beside=False)
    try:
        b64 = base64.b64encode(fashion_png.read_bytes()).decode()
        answer = _post(_root(server) + "/explain", {"b64": b64})
        assert answer["overlay"] is None and len(answer["top"]) == 5
        assert "No Grad-CAM overlay" in answer["note"] and "model.keras" in answer["note"]
        with pytest.raises(urllib.error.HTTPError) as error:
            _post(_root(server) + "/explain", {"image": b64})
        assert error.value.code == 400
    finally:
        server.shutdown()
        server.server_close()


def test_page_in_headless_chromium(model, tmp_path, fashion_png):
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="the browser test needs `pip install selenium`")
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("the browser test needs Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = _serve(model, tmp_path / "served", keras_beside=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage"):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options,
                               service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        browser.get(_root(server) + "/")
        card = browser.find_element(By.ID, "card").text
        assert "28,938" in card and "90.00 %" in card
        browser.find_element(By.ID, "file").send_keys(str(fashion_png))
        WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.ID, "top1"))
        shown = browser.find_element(By.CSS_SELECTOR, "#top1 td").text
        b64 = base64.b64encode(fashion_png.read_bytes()).decode()
        rest = _post(server.url + ":predict", {"instances": [{"b64": b64}]})
        assert shown == rest["predictions"][0]["class_names"]
        loaded = WebDriverWait(browser, 30).until(lambda b: b.execute_script(
            "const img = document.getElementById('overlay');"
            "return img.complete && img.naturalWidth > 0 ? img.naturalWidth : 0;"))
        assert loaded == 28
        assert browser.find_element(By.ID, "error").text == ""
    finally:
        browser.quit()
        server.shutdown()
        server.server_close()
