"""The hardware-efficiency bench: kernels sorted by kind, and a short run end to end."""

import pytest

from bench.bench_efficiency import main
from bench.op_profile import KINDS, kind_of


@pytest.mark.parametrize("op_name, kind", [
    ("StatefulPartitionedCall/model/conv1/Relu:_MklNativeFusedConv2D", "conv forward"),
    ("StatefulPartitionedCall/gradient_tape/model/conv2/convolution/Conv2DBackpropInput:"
     "_MklNativeConv2DBackpropInput", "conv input gradient"),
    ("StatefulPartitionedCall/gradient_tape/model/conv2/convolution/Conv2DBackpropFilter:"
     "_MklNativeConv2DBackpropFilterWithBias", "conv kernel gradient"),
    ("StatefulPartitionedCall/model/fc1/Relu:_MklNativeFusedMatMul", "dense"),
    ("StatefulPartitionedCall/gradient_tape/model/bn/FusedBatchNormGradV3:FusedBatchNormGradV3",
     "batch norm"),
    ("StatefulPartitionedCall/gradient_tape/model/pool1/MaxPoolGrad:_MklNativeMaxPoolGrad",
     "pooling"),
    ("StatefulPartitionedCall/adam/Sqrt_9:Sqrt", "optimizer"),
    ("StatefulPartitionedCall/gradient_tape/model/conv1/ReluGrad:ReluGrad", "elementwise"),
])
def test_kernels_are_sorted_by_kind(op_name, kind):
    assert kind_of(op_name, optimizer_scope="adam") == kind


def test_a_short_run_prints_the_share_of_peak_and_where_the_step_goes(capsys):
    main(["--models", "lenet5", "--steps", "8", "--repeats", "1", "--batch-size", "16",
          "--profile"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("machine: ") and "float32 matmul peak" in lines[0]
    # One row in each table: efficiency, kinds of kernel, convolution kernels.
    row, kinds_row, conv_row = [line for line in lines if line.startswith("lenet5 ")]
    name, shape, mflop, ms, gflops, share = row.split()
    assert shape == "32x32x1" and float(mflop) == pytest.approx(2.3, abs=0.05)
    assert float(ms) > 0 and share.endswith("%")
    shares = [float(cell.rstrip("%")) for cell in kinds_row.split()[1:len(KINDS) + 1]]
    assert sum(shares) == pytest.approx(100, abs=len(KINDS))  # each rounded to 1%
    assert shares[2] > 0  # the forward convolutions were seen
    assert all(float(cell.rstrip("%")) > 0 for cell in conv_row.split()[1:])
