"""W3 in TensorFlow: the TensorFlow DeepDream tutorial's algorithm, as the yardstick for
the speed suite's W3 (``benchmarks/suite.py``).

The tutorial (tensorflow.org/tutorials/generative/deepdream): InceptionV3's ``mixed3`` and
``mixed5`` (timm's ``Mixed_6a`` and ``Mixed_6c``), the sum of their means as the
objective, gradients in 512 px tiles of a randomly rolled image inside a ``tf.function``,
divided by their standard deviation, octaves -2..2 at scale 1.3. W3 takes 5 steps per
octave of 0.01 on the 512x512 astronaut and random weights (``weights=None``: nothing is
downloaded). Run it with a Python that has TensorFlow, not the project's venv:

    python3 -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu pillow
    /tmp/tf/bin/python benchmarks/w3_tensorflow.py            # prints the dream's seconds
    /tmp/tf/bin/python benchmarks/w3_tensorflow.py --whole    # every pixel, as ours does

``suite.py --tensorflow /tmp/tf/bin/python`` times it as a whole process beside ours.

The tutorial's tiles are ``tf.range(0, size, tile)[:-1]``: the last tile start is dropped
unless it is the only one, so an image between 513 and 1023 px gets gradients in one
512 px tile per step and none elsewhere (the roll moves that tile about from step to
step). Ours covers every pixel in every step: at W3's octaves that is 1.64x the
tutorial's pixels. ``--whole`` keeps every tile start, so TensorFlow does the same work
as ours; the tutorial as written stays the default.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(whole: bool = False, out: str | None = None) -> None:
    tf.random.set_seed(0)
    base = tf.keras.applications.InceptionV3(include_top=False, weights=None)
    outputs = [base.get_layer(name).output for name in ("mixed3", "mixed5")]
    model = tf.keras.Model(inputs=base.input, outputs=outputs)

    def calc_loss(img: tf.Tensor) -> tf.Tensor:
        activations = model(tf.expand_dims(img, axis=0))
        return tf.reduce_sum([tf.math.reduce_mean(a) for a in activations])

    @tf.function(input_signature=(tf.TensorSpec(shape=[None, None, 3], dtype=tf.float32),
                                  tf.TensorSpec(shape=[2], dtype=tf.int32),
                                  tf.TensorSpec(shape=[], dtype=tf.int32)))  # fmt: skip
    def tiled_gradients(img: tf.Tensor, img_size: tf.Tensor, tile_size: tf.Tensor) -> tf.Tensor:
        shift = tf.random.uniform(shape=[2], minval=-tile_size, maxval=tile_size, dtype=tf.int32)
        rolled = tf.roll(img, shift=shift, axis=[0, 1])
        gradients = tf.zeros_like(rolled)
        xs = tf.range(0, img_size[1], tile_size)
        ys = tf.range(0, img_size[0], tile_size)
        if not whole:  # the tutorial's tiling: the last tile start dropped unless it is the only one
            xs = xs[:-1]
            if not tf.cast(len(xs), bool):
                xs = tf.constant([0])
            ys = ys[:-1]
            if not tf.cast(len(ys), bool):
                ys = tf.constant([0])
        for x in xs:
            for y in ys:
                with tf.GradientTape() as tape:
                    tape.watch(rolled)
                    loss = calc_loss(rolled[y : y + tile_size, x : x + tile_size])
                gradients = gradients + tape.gradient(loss, rolled)
        gradients = tf.roll(gradients, shift=-shift, axis=[0, 1])
        return gradients / (tf.math.reduce_std(gradients) + 1e-8)

    photo = np.asarray(Image.open(ROOT / "examples" / "astronaut.jpg").convert("RGB").resize((512, 512)), np.float32)
    started = time.perf_counter()
    img = tf.keras.applications.inception_v3.preprocess_input(tf.constant(photo))
    base_shape = tf.shape(img)[:-1]
    for octave in range(-2, 3):
        size = tf.cast(tf.cast(base_shape, tf.float32) * (1.3**octave), tf.int32)
        img = tf.image.resize(img, size)
        for _ in range(5):
            img = tf.clip_by_value(img + tiled_gradients(img, size, tf.constant(512)) * 0.01, -1, 1)
    img = tf.image.resize(img, base_shape)
    result = tf.cast(255 * (img + 1.0) / 2.0, tf.uint8).numpy()
    took = time.perf_counter() - started
    if out:
        Image.fromarray(result).save(out)
    print(f"dream {took:.2f} s (TensorFlow {tf.__version__}{', every pixel' if whole else ''})")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(whole="--whole" in args, out=next((a for a in args if a != "--whole"), None))
