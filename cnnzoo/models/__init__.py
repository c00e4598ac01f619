"""Model families; importing this package registers every builder.

Every public builder is exported here, with the registry's `build`, `list_models`,
`model_card` and `ModelCard`, and the feature extraction of `cnnzoo.models.features`.
"""

from cnnzoo.models.alexnet import build_alexnet_lite
from cnnzoo.models.compile import compile_classifier, make_optimizer
from cnnzoo.models.features import FeatureStage, feature_info, features
from cnnzoo.models.keras_mnist import build_keras_mnist_convnet
from cnnzoo.models.lenet import build_lenet5
from cnnzoo.models.mnist_cnn import build_mnist_cnn
from cnnzoo.models.resnet import (build_resnet, build_resnet18, build_resnet20, build_resnet32,
                                  build_resnet34, build_resnet44, build_resnet50, build_resnet56,
                                  build_resnet101, build_resnet110, build_resnet152)
from cnnzoo.models.resnet9 import build_resnet9, build_resnet9_paper, build_resnet9_w24
from cnnzoo.models.tutorial import build_tutorial_3x3, build_tutorial_5x5, build_tutorial_cnn
from cnnzoo.models.vgg import (build_vgg, build_vgg11, build_vgg11_bn, build_vgg13, build_vgg13_bn,
                               build_vgg16, build_vgg16_bn, build_vgg19, build_vgg19_bn)
from cnnzoo.registry import ModelCard, build, list_models, model_card
