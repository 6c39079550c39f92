"""Model import and export: .npz, PyTorch, scikit-learn and ONNX.

The .npz schema (``save`` / ``load``):

==========================  ===============================================================
key                         value
==========================  ===============================================================
``mpcore_format``           1 (schema version)
``layers``                  number of dense layers L
``w{k}``, ``b{k}``          weights (out, in) and bias (out,) of layer k = 0..L-1; float32 or
                            float64, or uint8 bit patterns when ``encoding`` names a format
``activation{k}``           activation name (see ``mpcore.ACTIVATIONS``); ``alpha{k}`` optional
``encoding``                optional: an <= 8-bit format name whose codes ``w{k}``/``b{k}`` hold
``weight_format``           optional storage format of the weights (rounded once on load)
``activation_format``       optional storage format of hidden activations ("none" for fp64)
``name``                    optional model name
==========================  ===============================================================
"""

from __future__ import annotations

import pathlib
from typing import List, Optional, Sequence

import numpy as np

from .. import formats as _formats
from .mlp import MLP, Dense

TORCH_ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "GELU": "gelu", "SiLU": "silu",
                     "Softplus": "softplus", "ELU": "elu", "LeakyReLU": "leaky_relu", "Identity": "identity"}
ONNX_ACTIVATIONS = {"Relu": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Gelu": "gelu", "Softplus": "softplus",
                    "Elu": "elu", "LeakyRelu": "leaky_relu", "Identity": "identity"}
SKLEARN_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "identity"}


def save(net: MLP, path, encoding: Optional[str] = None) -> None:
    """Write ``net`` as .npz; ``encoding`` stores weights as uint8 codes of an <= 8-bit format."""
    data = {"mpcore_format": np.int64(1), "layers": np.int64(len(net.layers)), "name": np.str_(net.name)}
    if net.weight_format is not None:
        data["weight_format"] = np.str_(net.weight_format.name)
    data["activation_format"] = np.str_(net.activation_format.name if net.activation_format else "none")
    if encoding is not None:
        data["encoding"] = np.str_(_formats.get(encoding, "encoding").name)
    for k, layer in enumerate(net.layers):
        for key, arr in (("w", layer.w), ("b", layer.b)):
            if arr is None:
                continue
            data[f"{key}{k}"] = _formats.encode(arr, encoding) if encoding else arr
        data[f"activation{k}"] = np.str_(layer.activation)
        if layer.alpha is not None:
            data[f"alpha{k}"] = np.float64(layer.alpha)
    np.savez_compressed(path, **data)


def load(path) -> MLP:
    """Read an .npz written by :func:`save` (or by hand, following the schema above)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    expected = "an .npz archive with 'layers', 'w0', 'b0', ... (schema in mpcore.networks.models)"
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:  # a corrupt or foreign file: NumPy's message alone names neither
        raise ValueError(f"{path}: cannot be read as an mpcore model ({type(exc).__name__}: {exc}); "
                         f"expected {expected}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: holds a single array, not a model; expected {expected}")
    with archive as z:
        if "layers" not in z:
            raise ValueError(f"{path}: not an mpcore model (no 'layers' key); expected {expected}")
        encoding = str(z["encoding"]) if "encoding" in z else None
        layers = []
        for k in range(int(z["layers"])):
            if f"w{k}" not in z:
                raise ValueError(f"{path}: missing w{k}")
            w = z[f"w{k}"]
            b = z[f"b{k}"] if f"b{k}" in z else None
            if encoding:
                w = _formats.decode(w, encoding)
                b = None if b is None else _formats.decode(b, encoding)
            act = str(z[f"activation{k}"]) if f"activation{k}" in z else "identity"
            alpha = float(z[f"alpha{k}"]) if f"alpha{k}" in z else None
            layers.append(Dense(w, b, act, alpha))
        weight_format = str(z["weight_format"]) if "weight_format" in z else None
        act_fmt = str(z["activation_format"]) if "activation_format" in z else "fp32"
        name = str(z["name"]) if "name" in z else path.stem
    return MLP(layers, weight_format=weight_format, activation_format=None if act_fmt == "none" else act_fmt,
               name=name)


def _attach(layers: List[Dense], activation: str, alpha: Optional[float], where: str) -> None:
    if not layers or layers[-1].activation != "identity":
        raise ValueError(f"activation {where} does not follow a linear layer")
    layers[-1].activation, layers[-1].alpha = activation, alpha


def _probe_check(net: MLP, reference, n_in: int, what: str, tol: float = 1e-9) -> MLP:
    """The import rule: the imported network reproduces the framework's fp64 outputs on a
    probe input, or the import fails naming the difference (no silently wrong model)."""
    probe = np.random.default_rng(0).standard_normal((4, n_in))
    got = net.reference_logits(probe)
    want = np.asarray(reference(probe), dtype=np.float64).reshape(got.shape)
    scale = max(1.0, float(np.max(np.abs(want))))
    err = float(np.max(np.abs(got - want))) / scale
    if not err <= tol:
        raise ValueError(f"{what}: the imported network does not reproduce the model's outputs on a probe input "
                         f"(relative difference {err:.3g}); it contains something mpcore cannot represent")
    return net


_TORCH_FUNCTIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "gelu": "gelu", "silu": "silu",
                    "softplus": "softplus", "elu": "elu", "leaky_relu": "leaky_relu"}
_TORCH_SHAPE_OPS = {"flatten", "view", "reshape", "dropout", "contiguous", "squeeze"}


def _torch_state_dict(sd, activations) -> List[Dense]:
    if activations is None:
        raise ValueError("a state dict holds no activations: pass activations=[...] (one per Linear layer), "
                         "or import the nn.Module itself")
    layers: List[Dense] = []
    for key, value in sd.items():
        if key.endswith("bias"):
            continue
        if not key.endswith("weight") or getattr(value, "ndim", 0) != 2:
            raise ValueError(f"state dict entry {key!r} (shape {tuple(getattr(value, 'shape', ()))}) is not a "
                             "Linear weight: a state dict import takes Linear layers only")
        bias_key = key[: -len("weight")] + "bias"
        b = sd[bias_key].detach().cpu().double().numpy() if bias_key in sd else None
        layers.append(Dense(value.detach().cpu().double().numpy(), b))
    if len(activations) != len(layers):
        raise ValueError(f"{len(activations)} activations for {len(layers)} Linear layers")
    for layer, act in zip(layers, activations):
        layer.activation = act
    return layers


def _torch_module_activation(module, where):
    kind = type(module).__name__
    alpha = None
    if kind == "LeakyReLU":
        alpha = float(module.negative_slope)
    elif kind == "ELU":
        alpha = float(module.alpha)
    elif kind == "Softplus" and (module.beta != 1 or module.threshold != 20):
        raise ValueError(f"unsupported Softplus with beta != 1 or threshold != 20 ({where})")
    act = TORCH_ACTIVATIONS[kind]
    if kind == "GELU" and getattr(module, "approximate", "none") == "tanh":
        act = "gelu_tanh"
    return act, alpha


def _torch_module(model) -> List[Dense]:
    """Layers of a traced module: a chain of Linear layers, activations (modules, functions
    or tensor methods) and shape-only operations; anything else raises, naming it."""
    import torch
    import torch.fx

    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception as exc:
        raise ValueError(f"cannot trace {type(model).__name__} with torch.fx ({exc}); mpcore imports chains of "
                         "Linear layers and activations") from None
    modules = dict(model.named_modules())
    layers: List[Dense] = []
    current = None  # the node whose value flows down the chain
    for node in graph.nodes:
        if node.op == "placeholder":
            if current is not None:
                raise ValueError("models with several inputs are not supported")
            current = node
            continue
        if node.op == "output":
            break
        where = f"{node.op} {node.target!r}"
        if not node.args or node.args[0] is not current or any(
                isinstance(a, torch.fx.Node) for a in list(node.args[1:]) + list(node.kwargs.values())):
            raise ValueError(f"{where}: not a chain (it combines several values, e.g. a residual connection); "
                             "mpcore imports chains of Linear layers and activations")
        if node.op == "call_module":
            module = modules[node.target]
            kind = type(module).__name__
            if kind == "Linear":
                w = module.weight.detach().cpu().double().numpy()
                b = None if module.bias is None else module.bias.detach().cpu().double().numpy()
                layers.append(Dense(w, b))
            elif kind in TORCH_ACTIVATIONS:
                if kind != "Identity":
                    act, alpha = _torch_module_activation(module, node.target)
                    _attach(layers, act, alpha, f"{kind} ({node.target})")
            elif kind not in ("Flatten", "Dropout"):
                raise ValueError(f"unsupported layer {kind} ({node.target}): mpcore imports Linear, "
                                 f"{', '.join(TORCH_ACTIVATIONS)}, Flatten and Dropout")
        else:  # call_function / call_method
            name = getattr(node.target, "__name__", str(node.target)).rstrip("_")
            if name in _TORCH_FUNCTIONS:
                kwargs = dict(node.kwargs)
                alpha = None
                if name == "leaky_relu":
                    alpha = float(node.args[1] if len(node.args) > 1 else kwargs.get("negative_slope", 0.01))
                elif name == "elu":
                    alpha = float(node.args[1] if len(node.args) > 1 else kwargs.get("alpha", 1.0))
                act = _TORCH_FUNCTIONS[name]
                if name == "gelu" and kwargs.get("approximate", "none") == "tanh":
                    act = "gelu_tanh"
                if name == "softplus" and (kwargs.get("beta", 1) != 1 or len(node.args) > 1):
                    raise ValueError(f"{where}: softplus with beta != 1 is not supported")
                _attach(layers, act, alpha, where)
            elif name not in _TORCH_SHAPE_OPS:
                raise ValueError(f"unsupported operation {where}: mpcore imports Linear layers, activations "
                                 f"({', '.join(_TORCH_FUNCTIONS)}) and flatten/view/reshape/dropout")
        current = node
    return layers


def from_torch(model, activations: Optional[Sequence[str]] = None, **mlp_options) -> MLP:
    """An MLP from a torch module (traced with torch.fx: nested Sequentials and custom modules
    whose forward calls torch.relu etc. are fine) or from a state dict of Linear layers with
    ``activations`` naming each layer's activation. A module's import is checked on a probe
    input against the module's own float64 output; anything mpcore cannot represent raises."""
    import copy

    import torch

    if isinstance(model, dict):
        layers = _torch_state_dict(model, activations)
        if not layers:
            raise ValueError("no Linear layers found")
        return MLP(layers, **mlp_options)
    if activations is not None:
        raise ValueError("activations= is for state dicts; a module's own activations are used")
    layers = _torch_module(model)
    if not layers:
        raise ValueError("no Linear layers found")
    mlp_options.setdefault("name", type(model).__name__.lower())
    net = MLP(layers, **mlp_options)
    reference = copy.deepcopy(model).double().eval()

    def run(probe):
        with torch.no_grad():
            return reference(torch.from_numpy(probe)).numpy()

    return _probe_check(net, run, layers[0].w.shape[1], f"torch model {type(model).__name__}")


def from_sklearn(clf, **mlp_options) -> MLP:
    """An MLP from a fitted scikit-learn MLPClassifier / MLPRegressor (logits before softmax)."""
    if not hasattr(clf, "coefs_"):
        raise ValueError(f"{type(clf).__name__} is not a fitted scikit-learn MLP (no coefs_)")
    act = SKLEARN_ACTIVATIONS.get(clf.activation)
    if act is None:
        raise ValueError(f"unsupported activation {clf.activation!r}")
    n = len(clf.coefs_)
    mlp_options.setdefault("name", type(clf).__name__.lower())
    layers = [Dense(np.asarray(W, dtype=np.float64).T, np.asarray(b, dtype=np.float64),
                    act if k < n - 1 else "identity")
              for k, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_))]
    return MLP(layers, **mlp_options)


def from_onnx(model, **mlp_options) -> MLP:
    """An MLP from an ONNX model (path or ModelProto): Gemm, MatMul + Add, supported activations,
    Flatten / Identity / Dropout, as one chain."""
    import onnx
    from onnx import numpy_helper

    if not isinstance(model, onnx.ModelProto):
        path = pathlib.Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX file not found: {path}")
        mlp_options.setdefault("name", path.stem)
        model = onnx.load(str(path))
    else:
        mlp_options.setdefault("name", model.graph.name or "onnx")
    inits = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            inits[node.output[0]] = numpy_helper.to_array(node.attribute[0].t).astype(np.float64)
    layers: List[Dense] = []
    pending_matmul = None  # a MatMul waiting for its Add
    for node in model.graph.node:
        op = node.op_type
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if op == "Constant":
            continue
        if op == "Gemm":
            if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get("transA", 0):
                raise ValueError(f"unsupported Gemm attributes in node {node.name!r}: {attrs}")
            w = inits[node.input[1]]
            w = w if attrs.get("transB", 0) else w.T
            b = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            layers.append(Dense(w, None if b is None else b.reshape(-1)))
        elif op == "MatMul":
            w = inits.get(node.input[1])
            if w is None:
                raise ValueError(f"MatMul node {node.name!r}: the second input must be a weight initializer")
            layers.append(Dense(w.T))
            pending_matmul = len(layers) - 1
        elif op == "Add" and pending_matmul is not None:
            b = inits.get(node.input[1], inits.get(node.input[0]))
            if b is None:
                raise ValueError(f"Add node {node.name!r} after MatMul needs a constant bias")
            layers[pending_matmul].b = b.reshape(-1)
            pending_matmul = None
        elif op in ONNX_ACTIVATIONS:
            alpha = attrs.get("alpha") if op in ("LeakyRelu", "Elu") else None
            act = ONNX_ACTIVATIONS[op]
            if op == "Gelu" and attrs.get("approximate", b"none") in (b"tanh", "tanh"):
                act = "gelu_tanh"
            if act != "identity":
                _attach(layers, act, None if alpha is None else float(alpha), f"{op} ({node.name})")
        elif op in ("Flatten", "Dropout", "Reshape"):
            continue
        else:
            raise ValueError(f"unsupported ONNX operator {op} (node {node.name!r}): mpcore imports Gemm, MatMul, "
                             f"Add, {', '.join(ONNX_ACTIVATIONS)}, Flatten, Dropout")
    if not layers:
        raise ValueError("no Gemm or MatMul layers found")
    net = MLP(layers, **mlp_options)
    try:
        import onnxruntime
    except ImportError:
        return net  # nothing to check against
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    dtype = np.float64 if "double" in feed.type else np.float32

    def run(probe):
        return session.run(None, {feed.name: probe.astype(dtype)})[0]

    # onnxruntime computes in the model's own precision: float32 models agree to ~1e-6.
    return _probe_check(net, run, layers[0].w.shape[1], f"ONNX model {net.name}",
                        1e-9 if dtype == np.float64 else 1e-4)


def load_any(path, **mlp_options) -> MLP:
    """Load a model by file extension: .npz, .onnx, .pt/.pth (a pickled nn.Sequential or state dict)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load(path)
    mlp_options.setdefault("name", path.stem)  # sweeps name their files after it
    if suffix == ".onnx":
        return from_onnx(path, **mlp_options)
    if suffix in (".pt", ".pth"):
        import torch

        obj = torch.load(str(path), map_location="cpu", weights_only=False)
        return from_torch(obj, **mlp_options)
    raise ValueError(f"unknown model file type {suffix!r}: use .npz, .onnx, .pt or .pth")
