"""`cnnzoo.viz`: seeing inside a CNN with matplotlib figures.

Every `plot_*` function returns a `matplotlib.figure.Figure` (made without pyplot, so no
backend is chosen or changed: it renders headless, and a notebook shows it inline);
`save_figure(figure, "out.png")` writes one atomically. Install matplotlib with
`pip install cnnzoo[viz]`; it is imported when the first figure is drawn.

- `plot_history`: training curves from a `History`, a workdir or its `history.csv`.
- `plot_confusion_matrix`, `plot_class_metrics`: from `cnnzoo.evaluate`'s result.
- `plot_worst_mistakes`: the most confident mistakes, from a model and data.
- `plot_images`: images with labels, raw or as `cnnzoo.load_dataset` delivers them.
- `plot_filters`, `plot_feature_maps`, `feature_maps`, `layer_names`: what the
  convolutions learned and what they see.
- `grad_cam`, `plot_grad_cam`, `overlay`: where the model looked (Grad-CAM).

Example:
    >>> import cnnzoo, cnnzoo.viz, numpy as np
    >>> model = cnnzoo.build("mnist_cnn")
    >>> cnnzoo.viz.layer_names(model)[-1]
    'conv3'
    >>> figure = cnnzoo.viz.plot_grad_cam(model, np.zeros((28, 28, 1)))
    >>> type(figure).__name__
    'Figure'
"""

from cnnzoo.viz.evaluation import (plot_class_metrics, plot_confusion_matrix,
                                   plot_worst_mistakes, worst_mistakes)
from cnnzoo.viz.figures import save_figure
from cnnzoo.viz.filters import first_layer_filters, plot_feature_maps, plot_filters
from cnnzoo.viz.gradcam import GradCAM, grad_cam, overlay, plot_grad_cam, top_classes
from cnnzoo.viz.images import plot_images
from cnnzoo.viz.layers import feature_maps, layer_names
from cnnzoo.viz.training import plot_history

__all__ = ["GradCAM", "feature_maps", "first_layer_filters", "grad_cam", "layer_names",
           "overlay", "plot_class_metrics", "plot_confusion_matrix", "plot_feature_maps",
           "plot_filters", "plot_grad_cam", "plot_history", "plot_images",
           "plot_worst_mistakes", "save_figure", "top_classes", "worst_mistakes"]
