"""Multi-stage feature maps of any zoo model, like timm's `features_only`.

A stage is the deepest layer at one resolution: where the next layer halves the image
(a strided convolution or a pool), the layer before it ends a stage. Strides come from the
layers' own strides along the graph, not from output sizes, so valid convolutions that
trim a border (mnist_cnn's 28 -> 26) stay at the stride they are at.
"""

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class FeatureStage:
    """One stage of a model's backbone.

    Attributes:
        name: `stage1`, `stage2`, ... from the input towards the top.
        layer: the name of the layer whose output the stage is.
        stride: input pixels per feature-map pixel along each axis (1, 2, 4, ...).
        channels: the feature map's channels.
        shape: the feature map's `(height, width, channels)` at this model's input.
    """

    name: str
    layer: str
    stride: int
    channels: int
    shape: tuple


def _as_model(model_or_name, build_kwargs):
    if isinstance(model_or_name, keras.Model):
        if build_kwargs:
            raise ValueError(f"build options {sorted(build_kwargs)} apply to a model given by "
                             f"name; received a built keras.Model ({model_or_name.name!r}).")
        return model_or_name
    if isinstance(model_or_name, str):
        from cnnzoo.registry import build

        return build(model_or_name, include_top=False, compile=False, **build_kwargs)
    raise ValueError(f"features take a registered model name or a keras.Model; received "
                     f"{type(model_or_name).__name__}.")


def _own_stride(layer):
    strides = getattr(layer, "strides", 1)
    return int(strides[0] if isinstance(strides, (tuple, list)) else strides)


def _layer_strides(model):
    """Returns `{layer name: stride of its output}` by walking the functional graph."""
    producers, strides = {}, {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            parents = []
        else:
            parents = [producers[id(tensor)] for tensor in keras.tree.flatten(layer.input)]
        strides[layer.name] = max([strides[p] for p in parents], default=1) * _own_stride(layer)
        for tensor in keras.tree.flatten(layer.output):
            producers[id(tensor)] = layer.name
    return strides


def feature_info(model_or_name, **build_kwargs):
    """Returns the backbone's stages: the deepest layer at each stride, shallowest first.

    Args:
        model_or_name: a registered name (built with `include_top=False`) or a functional
            `keras.Model` with one image input, such as any zoo model.
        **build_kwargs: options for `cnnzoo.build` when a name is given (`input_shape`,
            `weights`, ...).

    Returns:
        A list of `FeatureStage`.

    Raises:
        ValueError: neither a name nor a model, build options beside a model, or a model
            with no convolution.

    Example:
        >>> [(s.name, s.layer, s.stride) for s in feature_info("mnist_cnn")]
        [('stage1', 'conv1', 1), ('stage2', 'conv2', 2), ('stage3', 'conv3', 4)]
    """
    model = _as_model(model_or_name, build_kwargs)
    strides = _layer_strides(model)
    deepest, seen_conv = {}, False
    for layer in model.layers:
        seen_conv = seen_conv or isinstance(layer, keras.layers.Conv2D)
        if seen_conv and len(layer.output.shape) == 4:
            deepest[strides[layer.name]] = layer
    if not deepest:
        raise ValueError(f"model {model.name!r} has no convolution, so no feature stages.")
    return [FeatureStage(name=f"stage{index}", layer=layer.name, stride=stride,
                         channels=int(layer.output.shape[-1]),
                         shape=tuple(layer.output.shape[1:]))
            for index, (stride, layer) in enumerate(sorted(deepest.items()), start=1)]


def features(model_or_name, layers=None, **build_kwargs):
    """Returns a model that maps images to named feature maps (the backbone's stages).

    The returned model shares the layers and weights of the model it comes from, so
    training one trains the other.

    Args:
        model_or_name: a registered name (built with `include_top=False`) or a functional
            `keras.Model` with one image input, such as any zoo model.
        layers: None for every stage of `feature_info`, or a list of stage names
            (`"stage2"`) and layer names (`"conv3"`); the outputs keep these names.
        **build_kwargs: options for `cnnzoo.build` when a name is given.

    Returns:
        A `keras.Model` named `<model>_features` whose output is a dict from each name to
        its feature map.

    Raises:
        ValueError: an unknown stage or layer name (naming the stages), an empty or
            repeated list, or any error of `feature_info`.

    Example:
        >>> extractor = features("resnet20", input_shape=(32, 32, 3))
        >>> {name: tuple(t.shape) for name, t in extractor.output.items()}
        {'stage1': (None, 32, 32, 16), 'stage2': (None, 16, 16, 32), 'stage3': (None, 8, 8, 64)}
    """
    model = _as_model(model_or_name, build_kwargs)
    stages = {stage.name: stage.layer for stage in feature_info(model)}
    if layers is None:
        layers = list(stages)
    if isinstance(layers, str) or not layers or len(set(layers)) != len(layers):
        raise ValueError(f"layers must be a list of distinct stage or layer names, such as "
                         f"{list(stages)}; received layers={layers!r}.")
    layer_names = {layer.name for layer in model.layers}
    outputs = {}
    for key in layers:
        if key not in stages and key not in layer_names:
            raise ValueError(f"{model.name} has no stage or layer {key!r}; its stages are "
                             f"{stages} (stage: layer), and any layer name is accepted.")
        outputs[key] = model.get_layer(stages.get(key, key)).output
    return keras.Model(model.inputs[0], outputs, name=f"{model.name}_features")
