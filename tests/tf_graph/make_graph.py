"""Writes ``graph.pb``, a small GraphDef made by TensorFlow itself with every op of the classic
``tensorflow_inception_graph.pb`` (Conv2D with SAME padding at strides 1 and 2, BiasAdd, Relu,
LRN, MaxPool with SAME, AvgPool with VALID, the legacy Concat, float and int32 constants) and
inception5h's node names, and ``graph.npz``: its input, its constants and TensorFlow's own
output of every node, the reference tests/test_inception5h.py holds the project's GraphDef
reader and its ops against. Run once, where TensorFlow is installed (it is not a dependency):

    python -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu==2.21.0
    /tmp/tf/bin/python tests/tf_graph/make_graph.py

Made with tensorflow-cpu 2.21.0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

HERE = Path(__file__).resolve().parent
INPUT = (1, 23, 19, 3)  # odd sizes: SAME padding puts its extra pixel at the end


def build(rng: np.random.Generator) -> tuple[tf.Graph, dict[str, np.ndarray]]:
    graph, consts = tf.Graph(), {}
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, INPUT, name="input")

        def const(name: str, value: np.ndarray) -> tf.Tensor:
            consts[name] = value.astype(np.float32)
            return tf.constant(consts[name], name=name)

        def conv(name: str, inp: tf.Tensor, cin: int, cout: int, k: int, s: int = 1) -> tf.Tensor:
            w = const(f"{name}_w", rng.normal(0, np.sqrt(2 / (k * k * cin)), (k, k, cin, cout)))
            b = const(f"{name}_b", rng.normal(0, 0.1, cout))
            pre = tf.raw_ops.Conv2D(input=inp, filter=w, strides=[1, s, s, 1], padding="SAME", name=f"{name}_pre_relu/conv")
            return tf.raw_ops.Relu(features=tf.raw_ops.BiasAdd(value=pre, bias=b, name=f"{name}_pre_relu"), name=name)

        def maxpool(name: str, inp: tf.Tensor, k: int, s: int) -> tf.Tensor:
            return tf.raw_ops.MaxPool(input=inp, ksize=[1, k, k, 1], strides=[1, s, s, 1], padding="SAME", name=name)

        def lrn(name: str, inp: tf.Tensor) -> tf.Tensor:
            return tf.raw_ops.LRN(input=inp, depth_radius=5, bias=1.0, alpha=0.0001, beta=0.75, name=name)

        y = lrn("localresponsenorm0", maxpool("maxpool0", conv("conv2d0", x, 3, 16, 7, 2), 3, 2))
        y = lrn("localresponsenorm1", conv("conv2d2", conv("conv2d1", y, 16, 16, 1), 16, 24, 3))
        a = conv("mixed3a_1x1", y, 24, 8, 1)
        b = conv("mixed3a_3x3", conv("mixed3a_3x3_bottleneck", y, 24, 8, 1), 8, 12, 3)
        c = conv("mixed3a_5x5", conv("mixed3a_5x5_bottleneck", y, 24, 4, 1), 4, 6, 5)
        d = conv("mixed3a_pool_reduce", maxpool("mixed3a_pool", y, 3, 1), 24, 6, 1)
        mixed = tf.raw_ops.Concat(concat_dim=tf.constant(3, name="mixed3a/concat_dim"), values=[a, b, c, d],
                                  name="mixed3a")
        pooled = tf.raw_ops.AvgPool(value=mixed, ksize=[1, 5, 5, 1], strides=[1, 3, 3, 1], padding="VALID",
                                    name="head0_pool")
        conv("head0_bottleneck", pooled, 32, 8, 1)
        const("softmax2_w", rng.normal(0, 0.03, (32, 10)))  # a 2-D constant, as the classifier's
    return graph, consts


def main() -> None:
    rng = np.random.default_rng(0)
    graph, consts = build(rng)
    image = (rng.random(INPUT) * 255 - 117).astype(np.float32)  # the network's own input range
    names = [n.name for n in graph.as_graph_def().node if n.op not in ("Placeholder", "Const")]
    with tf.compat.v1.Session(graph=graph) as session:
        outputs = session.run([graph.get_tensor_by_name(f"{n}:0") for n in names], {"input:0": image})
    (HERE / "graph.pb").write_bytes(graph.as_graph_def().SerializeToString())
    np.savez_compressed(HERE / "graph.npz", input=image, **{f"const/{k}": v for k, v in consts.items()},
                        **{f"out/{n}": v for n, v in zip(names, outputs)})
    print(f"wrote graph.pb ({(HERE / 'graph.pb').stat().st_size} bytes) and graph.npz: {len(names)} nodes' outputs")


if __name__ == "__main__":
    main()
