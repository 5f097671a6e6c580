"""inception5h: a GraphDef with the real graph's ops and naming, converted and checked
against a NumPy interpreter of TensorFlow's semantics; that interpreter, the GraphDef reader and
the network's own ops are in turn held against a small graph TensorFlow itself wrote and ran
(``tf_graph/``: its bytes, and TensorFlow's output of every node)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from inceptionism.cli import app
from inceptionism.models import load_model
from inceptionism.models.graphdef import Node, encode_graph, parse_graph
from inceptionism.models.inception5h import LRN, MIXED, ConvSame, MaxPoolSame, graph_weights
from inceptionism.taps import capture


def _tf_like_graph(seed: int = 0) -> bytes:
    """The inception5h topology in TF ops: Conv2D+BiasAdd+Relu, LRN, MaxPool, Concat, AvgPool, MatMul."""
    rng = np.random.default_rng(seed)
    nodes = [Node("input", "Placeholder", attr={"dtype": 1})]

    def const(name, value):
        nodes.append(Node(name, "Const", attr={"dtype": 1, "value": value.astype(np.float32)}))

    def conv(name, x, cin, cout, k, s=1):
        const(f"{name}_w", rng.normal(0, np.sqrt(2 / (k * k * cin)), (k, k, cin, cout)))
        const(f"{name}_b", rng.normal(0, 0.1, cout))
        nodes.append(Node(f"{name}_pre_relu/conv", "Conv2D", [x, f"{name}_w"], {"strides": [1, s, s, 1], "padding": b"SAME"}))
        nodes.append(Node(f"{name}_pre_relu", "BiasAdd", [f"{name}_pre_relu/conv", f"{name}_b"]))
        nodes.append(Node(name, "Relu", [f"{name}_pre_relu"]))
        return name

    def pool(name, x, k, s, op="MaxPool", padding=b"SAME"):
        nodes.append(Node(name, op, [x], {"ksize": [1, k, k, 1], "strides": [1, s, s, 1], "padding": padding}))
        return name

    def lrn(name, x):
        nodes.append(Node(name, "LRN", [x], {"depth_radius": 5, "bias": 1.0, "alpha": 0.0001, "beta": 0.75}))
        return name

    x = lrn("localresponsenorm0", pool("maxpool0", conv("conv2d0", "input", 3, 64, 7, 2), 3, 2))
    x = pool("maxpool1", lrn("localresponsenorm1", conv("conv2d2", conv("conv2d1", x, 64, 64, 1), 64, 192, 3)), 3, 2)
    cin = 192
    for name, (c1, c3b, c3, c5b, c5, cp) in MIXED.items():
        a = conv(f"{name}_1x1", x, cin, c1, 1)
        b = conv(f"{name}_3x3", conv(f"{name}_3x3_bottleneck", x, cin, c3b, 1), c3b, c3, 3)
        c = conv(f"{name}_5x5", conv(f"{name}_5x5_bottleneck", x, cin, c5b, 1), c5b, c5, 5)
        d = conv(f"{name}_pool_reduce", pool(f"{name}_pool", x, 3, 1), cin, cp, 1)
        nodes.append(Node(f"{name}/concat_dim", "Const", attr={"dtype": 3, "value": 3}))
        nodes.append(Node(name, "Concat", [f"{name}/concat_dim", a, b, c, d]))
        x, cin = name, c1 + c3 + c5 + cp
        if name in ("mixed4a", "mixed4d"):
            head = "head0" if name == "mixed4a" else "head1"
            conv(f"{head}_bottleneck", pool(f"{head}_pool", x, 5, 3, "AvgPool", b"VALID"), cin, 128, 1)
        x = pool("maxpool4", x, 3, 2) if name == "mixed3b" else pool("maxpool10", x, 3, 2) if name == "mixed4e" else x
    const("softmax2_w", rng.normal(0, 0.03, (1024, 1008)))
    const("softmax2_b", rng.normal(0, 0.1, 1008))
    return encode_graph(nodes)


class NumpyTF:
    """Evaluates the graph's nodes with TensorFlow's semantics (NHWC, SAME padding, TF's LRN)."""

    def __init__(self, data: bytes, image: np.ndarray) -> None:
        self.nodes = {n.name: n for n in parse_graph(data)}
        self.memo = {"input": image}

    @staticmethod
    def _same(x, k, s, value=0.0):
        pads = [(0, 0)]
        for size in x.shape[1:3]:
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        return np.pad(x, pads + [(0, 0)], constant_values=value)

    @staticmethod
    def _windows(x, k, s):
        n, h, w, c = x.shape
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        idx = np.arange(k)
        rows = (np.arange(oh) * s)[:, None] + idx[None, :]
        cols = (np.arange(ow) * s)[:, None] + idx[None, :]
        return x[:, rows[:, :, None, None], cols[None, None, :, :], :]  # (n, oh, k, ow, k, c)

    def __call__(self, name: str) -> np.ndarray:
        if name in self.memo:
            return self.memo[name]
        node = self.nodes[name]
        ins = [self(i) for i in node.inputs if self.nodes[i].op != "Const" or node.op != "Concat"]
        attr = node.attr
        if node.op == "Const":
            out = attr["value"]
        elif node.op == "Conv2D":
            w = ins[1]
            k, s = w.shape[0], attr["strides"][1]
            patches = self._windows(self._same(ins[0], k, s), k, s)  # (n, oh, k, ow, k, c)
            out = np.einsum("nakbwc,kwco->nabo", patches.transpose(0, 1, 2, 3, 4, 5), w, optimize=True)
        elif node.op == "BiasAdd":
            out = ins[0] + ins[1]
        elif node.op == "Relu":
            out = np.maximum(ins[0], 0)
        elif node.op == "LRN":
            r, sq = attr["depth_radius"], ins[0] ** 2
            padded = np.pad(sq, [(0, 0)] * 3 + [(r, r)])
            window = sum(padded[..., i : i + sq.shape[-1]] for i in range(2 * r + 1))
            out = ins[0] / (attr["bias"] + attr["alpha"] * window) ** attr["beta"]
        elif node.op in ("MaxPool", "AvgPool"):
            k, s = attr["ksize"][1], attr["strides"][1]
            x = self._same(ins[0], k, s, -np.inf) if attr["padding"] == b"SAME" else ins[0]
            win = self._windows(x, k, s)
            out = win.max(axis=(2, 4)) if node.op == "MaxPool" else win.mean(axis=(2, 4))
        elif node.op == "Concat":
            out = np.concatenate(ins, axis=3)
        else:
            raise NotImplementedError(node.op)
        self.memo[name] = out
        return out


TF_GRAPH = Path(__file__).resolve().parent / "tf_graph"  # written by TensorFlow 2.21: tf_graph/make_graph.py


@pytest.fixture(scope="module")
def tf_graph() -> tuple[bytes, dict[str, np.ndarray]]:
    with np.load(TF_GRAPH / "graph.npz") as ref:
        return (TF_GRAPH / "graph.pb").read_bytes(), dict(ref)


def test_the_graph_reader_reads_what_tensorflow_wrote(tf_graph):
    data, ref = tf_graph
    nodes = {n.name: n for n in parse_graph(data)}
    consts = {k.removeprefix("const/"): v for k, v in ref.items() if k.startswith("const/")}
    found = graph_weights(data)
    assert set(consts) <= set(found) and all(np.array_equal(found[k], v) for k, v in consts.items())
    assert found["softmax2_w"].shape == (32, 10) and nodes["mixed3a/concat_dim"].attr["value"].tolist() == [3]  # int32
    conv = nodes["conv2d0_pre_relu/conv"]
    assert (conv.op, conv.inputs, conv.attr["strides"], conv.attr["padding"]) == (
        "Conv2D", ["input", "conv2d0_w"], [1, 2, 2, 1], b"SAME")
    lrn = nodes["localresponsenorm0"].attr
    assert (lrn["depth_radius"], lrn["bias"], lrn["beta"]) == (5, 1.0, 0.75) and lrn["alpha"] == pytest.approx(1e-4)
    assert nodes["head0_pool"].attr["padding"] == b"VALID" and nodes["head0_pool"].attr["ksize"] == [1, 5, 5, 1]
    assert nodes["mixed3a"].op == "Concat" and nodes["mixed3a"].inputs[0] == "mixed3a/concat_dim"


def test_the_numpy_reference_computes_what_tensorflow_computed(tf_graph):
    data, ref = tf_graph
    reference = NumpyTF(data, ref["input"].astype(np.float64))
    for key in (k for k in ref if k.startswith("out/")):
        ours, theirs = reference(key.removeprefix("out/")), ref[key]
        assert ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 1e-4 * max(1.0, np.abs(theirs).max()), key


def test_the_networks_ops_compute_what_tensorflow_computed(tf_graph):
    """Each op as the network runs it (SAME convolutions and max pools, TF's LRN, a VALID average
    pool, the concatenation), on TensorFlow's own inputs to it, gives TensorFlow's output."""
    data, ref = tf_graph
    found = graph_weights(data)

    def tf_in(name: str) -> torch.Tensor:  # a node's TF output as the network's (B, C, H, W)
        value = ref["input"] if name == "input" else ref[f"out/{name}"]
        return torch.from_numpy(value).permute(0, 3, 1, 2)

    with torch.no_grad():
        for node in parse_graph(data):
            if node.op in ("Placeholder", "Const", "BiasAdd", "Relu"):
                continue
            if node.op == "Conv2D":
                w = found[node.inputs[1]]
                layer = ConvSame(w.shape[2], w.shape[3], w.shape[0], node.attr["strides"][1])
                layer.weight.copy_(torch.from_numpy(w.transpose(3, 2, 0, 1)))
                layer.bias.zero_()  # the bias is the next node's (BiasAdd)
                out = layer(tf_in(node.inputs[0]))
            elif node.op == "MaxPool":
                out = MaxPoolSame(node.attr["ksize"][1], node.attr["strides"][1])(tf_in(node.inputs[0]))
            elif node.op == "AvgPool":
                out = torch.nn.AvgPool2d(node.attr["ksize"][1], node.attr["strides"][1])(tf_in(node.inputs[0]))
            elif node.op == "LRN":
                out = LRN()(tf_in(node.inputs[0]))
            elif node.op == "Concat":
                out = torch.cat([tf_in(i) for i in node.inputs[1:]], 1)
            else:
                raise AssertionError(f"an op the test does not know: {node.op}")
            theirs = tf_in(node.name)
            assert torch.allclose(out, theirs, rtol=1e-4, atol=1e-4 * float(theirs.abs().max())), node.name


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("g") / "tensorflow_inception_graph.pb"
    path.write_bytes(_tf_like_graph())
    return path


@pytest.mark.parametrize("layer", ["localresponsenorm0", "conv2d2_pre_relu", "mixed3b", "mixed4b_1x1_pre_relu",
                                   "mixed4d_3x3_bottleneck_pre_relu", "head0_bottleneck"])  # fmt: skip
def test_converted_graph_matches_numpy_reference(graph_file, layer, tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path))
    model = load_model("inception5h", weights=str(graph_file), cache=False)
    rng = np.random.default_rng(1)
    rgb = rng.random((1, 3, 99, 91), dtype=np.float32)  # odd sizes: asymmetric SAME padding
    with capture(model, [layer]) as run, torch.no_grad():
        ours = run(torch.from_numpy(rgb))[layer][0].permute(1, 2, 0).numpy()
    tf_input = rgb.transpose(0, 2, 3, 1) * 255.0 - 117.0
    ref = NumpyTF(graph_file.read_bytes(), tf_input.astype(np.float64))(layer)[0]
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-3 * max(1.0, np.abs(ref).max())


def test_zip_and_cache(graph_file, tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "home"))
    archive = tmp_path / "inception5h.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(graph_file, "tensorflow_inception_graph.pb")
    from_zip = load_model("inception5h", weights=str(archive), cache=False)
    assert list((tmp_path / "home" / "weights").glob("inception5h-*.safetensors"))  # converted once
    (tmp_path / "home" / "weights").mkdir(exist_ok=True)
    (tmp_path / "home" / "weights" / "inception5h.zip").write_bytes(archive.read_bytes())
    found = load_model("inception5h", cache=False)  # found in the cache folder, converted file reused
    assert torch.equal(found.net.mixed4b_1x1_pre_relu.weight, from_zip.net.mixed4b_1x1_pre_relu.weight)


def test_dream_with_notebook_layer_and_no_other_flag(graph_file, small_photo, tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "weights").mkdir(parents=True)
    (tmp_path / "home" / "weights" / "tensorflow_inception_graph.pb").write_bytes(graph_file.read_bytes())
    out = tmp_path / "d.png"
    result = CliRunner().invoke(app, ["dream", str(small_photo), "-o", str(out), "--model", "inception5h",
                                      "--layers", "mixed4b_1x1_pre_relu:70", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output


def test_missing_graph_is_one_line_exit_5(small_photo, tmp_path, monkeypatch):
    import inceptionism.models as models

    monkeypatch.setattr(models.loading, "_CACHE", {})  # no model loaded by an earlier test
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["dream", str(small_photo), "-o", str(tmp_path / "o.png"), "--model", "inception5h", "-q"])
    assert result.exit_code == 5 and "put tensorflow_inception_graph.pb or inception5h.zip in" in result.output
    assert not (tmp_path / "o.png").exists()


def test_layer_listing_matches_the_notebooks():
    result = CliRunner().invoke(app, ["layers", "--model", "inception5h", "--filter", "pre_relu"])
    rows = {line.split("\t")[1]: int(line.split("\t")[2]) for line in result.stdout.splitlines()[1:]}
    assert len(rows) == 59 and sum(rows.values()) == 7548  # "Number of layers 59, total feature channels 7548"
    assert rows["mixed4b_1x1_pre_relu"] == 160 and rows["mixed4d_3x3_bottleneck_pre_relu"] == 144
    assert rows["mixed3a_1x1_pre_relu"] == 64
