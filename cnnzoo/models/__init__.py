"""Model families; importing this package registers every builder."""

from cnnzoo.models.alexnet import build_alexnet_lite
from cnnzoo.models.compile import compile_classifier, make_optimizer
from cnnzoo.models.lenet import build_lenet5
from cnnzoo.models.mnist_cnn import build_mnist_cnn
from cnnzoo.models.resnet import build_resnet
from cnnzoo.models.resnet9 import build_resnet9
from cnnzoo.models.tutorial import build_tutorial_3x3, build_tutorial_5x5, build_tutorial_cnn
from cnnzoo.models.vgg import build_vgg
# The registry's functions, here so that `cnnzoo.build` & co. see every model above.
from cnnzoo.registry import ModelCard, build, list_models, model_card  # noqa: F401
