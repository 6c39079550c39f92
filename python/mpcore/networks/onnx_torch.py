"""ONNX graphs as torch modules, for :func:`mpcore.networks.torch.convert`.

``to_torch(model)`` (a path or an ``onnx.ModelProto``) walks the graph once and returns an
``nn.Module`` that runs it with torch operations: ``Conv`` (1-D and 2-D, symmetric pads)
becomes an ``nn.Conv1d`` / ``nn.Conv2d``, ``Gemm`` and ``MatMul`` with a weight initializer an
``nn.Linear`` (their products are the ones ``convert`` simulates), everything else a torch
function of the same definition: Relu, LeakyRelu, Tanh, Sigmoid, Gelu, Erf, Softmax,
LayerNormalization, Add, Sub, Mul, Div, MatMul of two computed tensors, Flatten, Reshape,
Transpose, MaxPool / AveragePool (symmetric pads), GlobalAveragePool, Constant, Identity,
Dropout. Anything else raises ValueError naming the operator. The module computes in the
initializers' precision (float64 when converted with ``double()``); torch.fx traces it, so
``convert`` sees which activation follows each layer.
"""

from __future__ import annotations

import pathlib
from typing import Dict, List

import numpy as np


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError("mpcore.networks.onnx_torch needs PyTorch (pip install torch)") from exc
    return torch


def _symmetric(pads, name: str) -> tuple:
    half = len(pads) // 2
    if list(pads[:half]) != list(pads[half:]):
        raise ValueError(f"node {name!r}: asymmetric pads {list(pads)} are not supported")
    return tuple(int(p) for p in pads[:half])


def _layer(node, attrs: dict, inits: Dict[str, np.ndarray]):
    """The nn.Module of a Conv, Gemm or MatMul-with-weight node, or None."""
    torch = _torch()
    nn = torch.nn
    op, name = node.op_type, node.name
    if op == "Conv":
        w = inits[node.input[1]]
        if w.ndim not in (3, 4):
            raise ValueError(f"Conv node {name!r}: 1-D and 2-D convolutions only")
        conv = (nn.Conv1d if w.ndim == 3 else nn.Conv2d)(
            w.shape[1] * attrs.get("group", 1), w.shape[0], w.shape[2:], stride=tuple(attrs.get("strides", (1,) * (w.ndim - 2))),
            padding=_symmetric(attrs.get("pads", (0,) * 2 * (w.ndim - 2)), name),
            dilation=tuple(attrs.get("dilations", (1,) * (w.ndim - 2))), groups=attrs.get("group", 1),
            bias=len(node.input) > 2 and bool(node.input[2]))
        conv.weight.data = torch.from_numpy(w.copy())
        if conv.bias is not None:
            conv.bias.data = torch.from_numpy(inits[node.input[2]].copy())
        return conv
    if op == "Gemm":
        if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get("transA", 0):
            raise ValueError(f"Gemm node {name!r}: alpha = beta = 1 and transA = 0 only, got {attrs}")
        w = inits[node.input[1]]
        w = w if attrs.get("transB", 0) else w.T
        has_bias = len(node.input) > 2 and bool(node.input[2])
        linear = nn.Linear(w.shape[1], w.shape[0], bias=has_bias)
        linear.weight.data = torch.from_numpy(np.array(w, order="C"))
        if has_bias:
            b = inits[node.input[2]]
            if b.size != w.shape[0]:
                raise ValueError(f"Gemm node {name!r}: the bias must have one value per output")
            linear.bias.data = torch.from_numpy(b.reshape(-1).copy())
        return linear
    if op == "MatMul" and node.input[1] in inits and inits[node.input[1]].ndim == 2:
        w = inits[node.input[1]]
        linear = nn.Linear(w.shape[0], w.shape[1], bias=False)
        linear.weight.data = torch.from_numpy(np.array(w.T, order="C"))
        return linear
    return None


def _function(op: str, attrs: dict, name: str):
    """A torch function for an elementwise or shape operator (inputs as a list)."""
    torch = _torch()
    F = torch.nn.functional
    axis = attrs.get("axis")
    table = {
        "Relu": lambda a: torch.relu(a[0]),
        "LeakyRelu": lambda a: F.leaky_relu(a[0], attrs.get("alpha", 0.01)),
        "Tanh": lambda a: torch.tanh(a[0]),
        "Sigmoid": lambda a: torch.sigmoid(a[0]),
        "Erf": lambda a: torch.erf(a[0]),
        "Gelu": lambda a: F.gelu(a[0], approximate="tanh" if attrs.get("approximate", b"none") in (b"tanh", "tanh")
                                 else "none"),
        "Softmax": lambda a: torch.softmax(a[0], -1 if axis is None else axis),
        "Add": lambda a: a[0] + a[1], "Sub": lambda a: a[0] - a[1],
        "Mul": lambda a: a[0] * a[1], "Div": lambda a: a[0] / a[1],
        "MatMul": lambda a: torch.matmul(a[0], a[1]),
        "Flatten": lambda a: a[0].flatten(1 if axis is None else axis),
        "Reshape": lambda a: a[0].reshape([int(d) for d in a[1].tolist()]),
        "Transpose": lambda a: a[0].permute(*attrs["perm"]),
        "Identity": lambda a: a[0], "Dropout": lambda a: a[0],
        "GlobalAveragePool": lambda a: a[0].mean(dim=tuple(range(2, a[0].dim())), keepdim=True),
    }
    if op == "LayerNormalization":
        eps = attrs.get("epsilon", 1e-5)
        start = -1 if axis is None else axis
        return lambda a: F.layer_norm(a[0], a[0].shape[start:], a[1] if len(a) > 1 else None,
                                      a[2] if len(a) > 2 else None, eps)
    if op in ("MaxPool", "AveragePool"):
        kernel = tuple(attrs["kernel_shape"])
        pads = _symmetric(attrs.get("pads", (0,) * 2 * len(kernel)), name)
        strides = tuple(attrs.get("strides", kernel))
        pool = {("MaxPool", 1): F.max_pool1d, ("MaxPool", 2): F.max_pool2d,
                ("AveragePool", 1): F.avg_pool1d, ("AveragePool", 2): F.avg_pool2d}[(op, len(kernel))]
        if op == "AveragePool":
            include = bool(attrs.get("count_include_pad", 0))
            return lambda a: pool(a[0], kernel, strides, pads, count_include_pad=include)
        return lambda a: pool(a[0], kernel, strides, pads)
    if op not in table:
        raise ValueError(f"unsupported ONNX operator {op} (node {name!r}); mpcore.networks.onnx_torch runs Conv, "
                         "Gemm, MatMul, LayerNormalization, Softmax, activations, Add/Sub/Mul/Div, pooling, "
                         "Flatten/Reshape/Transpose, Constant, Identity, Dropout")
    return table[op]


def to_torch(model):
    """An nn.Module running the ONNX model (path or ModelProto); see the module docstring."""
    torch = _torch()
    import onnx
    from onnx import numpy_helper

    if not isinstance(model, onnx.ModelProto):
        path = pathlib.Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX file not found: {path}")
        model = onnx.load(str(path))
    graph = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    steps: List[tuple] = []  # (kind, key, inputs, output)
    layers = torch.nn.ModuleDict()
    constants: Dict[str, np.ndarray] = {}
    for k, node in enumerate(graph.node):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(attrs["value"])
            continue
        layer = _layer(node, attrs, {**inits, **constants})
        shape = ({**inits, **constants}.get(node.input[1]) if node.op_type == "Reshape" else None)
        if layer is not None:
            key = f"{node.op_type.lower()}{k}"
            layers[key] = layer
            steps.append(("layer", key, [node.input[0]], node.output[0]))
        elif shape is not None:  # a constant shape, fixed now (0: the input's size there, as ONNX)
            dims = [int(d) for d in shape.tolist()]
            steps.append(("function", lambda a, dims=dims: a[0].reshape(
                [a[0].shape[i] if d == 0 else d for i, d in enumerate(dims)]), [node.input[0]], node.output[0]))
        else:
            steps.append(("function", _function(node.op_type, attrs, node.name), list(node.input), node.output[0]))
    weights = {name: value for name, value in {**inits, **constants}.items()}
    graph_inputs = [i.name for i in graph.input if i.name not in inits]
    if len(graph_inputs) > 4:
        raise ValueError(f"the graph has {len(graph_inputs)} inputs; at most 4 are supported")
    outputs = [o.name for o in graph.output]

    class OnnxGraph(torch.nn.Module):
        """The ONNX graph run by torch; Conv / Gemm / MatMul-with-weight are submodules."""

        def __init__(self):
            super().__init__()
            self.layers = layers
            for i, (name, value) in enumerate(weights.items()):
                self.register_buffer(f"const{i}", torch.from_numpy(np.array(value)), persistent=False)
            self._names = {name: f"const{i}" for i, name in enumerate(weights)}

        # Named inputs (not *inputs): torch.fx traces them, so convert() sees the activations.
        def forward(self, input0, input1=None, input2=None, input3=None):
            env = dict(zip(graph_inputs, (input0, input1, input2, input3)))
            for name, buffer in self._names.items():
                env[name] = getattr(self, buffer)
            for kind, key, args, out in steps:
                if kind == "layer":
                    env[out] = self.layers[key](env[args[0]])
                else:
                    env[out] = key([env[a] for a in args if a])
            result = [env[o] for o in outputs]
            return result[0] if len(result) == 1 else tuple(result)

    module = OnnxGraph().eval()
    dtypes = {v.dtype for v in inits.values() if np.issubdtype(v.dtype, np.floating)}
    return module.double() if np.float64 in dtypes else module.float()


__all__ = ["to_torch"]
