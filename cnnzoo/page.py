"""The page `cnnzoo serve` answers at `/`: drop an image, see its top classes and Grad-CAM.

One static HTML file (`cnnzoo/static/index.html`, plain HTML and a little JavaScript, no
build step and nothing fetched from elsewhere) with the model card written into it, and
one JSON endpoint it calls:

    POST /explain   {"b64": "<encoded image>"}  ->  {"top": [{"class", "probability"}...],
                    "class_name", "layer", "overlay": "data:image/png;base64,..." or None,
                    "note": why there is no overlay, or None}

The probabilities come from the export through the same code as the REST API's
`:predict` (the `serving_bytes` signature), so the page and the API always agree. The
overlay needs the Keras model (a SavedModel has no gradients): the one the export carries
in its assets (or, for an older export, a `.keras` file kept beside it), checked against
the export, as `cnnzoo explain` uses it (see `cnnzoo.explain` for why that and not a
Grad-CAM signature). Without one, the page shows the classes and says why there is no
overlay.
"""

import base64
import html
import importlib.resources
import json
import threading

import numpy as np

from cnnzoo.layouts.serving import version_number

EXPLAIN_PATH = "/explain"
TOP_CLASSES = 5


def _png_data_url(rgb):
    """Returns float RGB in [0, 1] `(H, W, 3)` as a `data:image/png;base64,` URL."""
    import tensorflow as tf

    pixels = np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)
    encoded = tf.io.encode_png(pixels).numpy()
    return "data:image/png;base64," + base64.b64encode(encoded).decode("ascii")


class PageService:
    """What the page needs beside the REST service: the card and Grad-CAM.

    The Keras model is loaded at the first request that needs it, so a server used only
    through its REST API never loads it.
    """

    def __init__(self, service):
        self.service = service
        self._lock = threading.Lock()
        self._loaded = False
        self._model, self._note = None, None

    def _keras_model(self):
        """Returns the export's Keras model, or None (with `_note` saying why)."""
        from cnnzoo.explain import load_export_model

        with self._lock:
            if not self._loaded:
                folder = self.service.predictor.path
                base = folder.parent if version_number(folder.name) is not None else folder
                try:
                    self._model = load_export_model(folder, base,
                                                    predictor=self.service.predictor)
                except (ValueError, FileNotFoundError) as error:
                    self._note = f"No Grad-CAM overlay: {error}"
                self._loaded = True
            return self._model

    def card(self):
        """Returns the model card shown on the page: the export's, with the parameters."""
        card = dict(self.service.predictor.card)
        model = self._keras_model()
        card["parameters"] = int(model.count_params()) if model is not None else None
        card["served_name"] = self.service.name
        card["grad_cam_note"] = self._note
        return card

    def html(self):
        """Returns the page as UTF-8 bytes, with the model card written into it."""
        template = importlib.resources.files("cnnzoo").joinpath(
            "static/index.html").read_text(encoding="utf-8")
        # In a <script> element only "</" could end it early; JSON allows "<\/".
        card = json.dumps(self.card()).replace("</", "<\\/")
        page = template.replace("{{TITLE}}", html.escape(self.service.name)).replace(
            "{{CARD_JSON}}", card)
        return page.encode("utf-8")

    def explain(self, request):
        """Returns the page's answer for `{"b64": ...}`: top classes and the overlay.

        Raises:
            RequestError: a body that is not `{"b64": "..."}`, or images the REST API
                refuses (with its status and message).
        """
        from cnnzoo.explain import decode_image
        from cnnzoo.serve import RequestError
        from cnnzoo.viz import grad_cam, overlay

        if not isinstance(request, dict) or set(request) != {"b64"}:
            raise RequestError(400, "send {\"b64\": \"<base64 of the image file>\"}.")
        prediction = self.service.predict({"instances": [request]})["predictions"][0]
        probabilities = np.asarray(prediction["probabilities"], np.float64)
        names = self.service.predictor.class_names or \
            [str(i) for i in range(len(probabilities))]
        order = np.argsort(-probabilities, kind="stable")[:TOP_CLASSES]
        answer = {"top": [{"class": names[i], "probability": float(probabilities[i])}
                          for i in order],
                  "class_name": names[order[0]], "layer": None, "overlay": None,
                  "note": None}
        model = self._keras_model()
        if model is None:
            answer["note"] = self._note
            return answer
        image = decode_image(base64.b64decode(request["b64"]), model.input_shape[1:])
        result = grad_cam(model, image, class_index=int(order[0]))
        answer["layer"] = result.layer
        answer["overlay"] = _png_data_url(overlay(image, result.heatmap))
        return answer
