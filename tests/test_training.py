"""Your own motifs: training on a generated set of made-up motifs, then dreaming, classifying
and serving with the trained file. One real training (bundled weights) is shared by the tests."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import inceptionism
from inceptionism.api import top_classes
from inceptionism.cli import app
from inceptionism.errors import ConfigError, ModelError, OutputError
from inceptionism.models import load_model
from inceptionism.models.trained import read_info
from inceptionism.command_config import TrainConfig
from inceptionism.training import train

from .support import EXAMPLES, invoke, one_line

FAST = TrainConfig(image_size=160, epochs=6, seed=0)  # the defaults are 224 px and 12 epochs: slower, stronger


def _make_motifs():
    spec = importlib.util.spec_from_file_location("make_motifs", EXAMPLES / "make_motifs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def motifs(tmp_path_factory) -> Path:
    return _make_motifs().make_set(tmp_path_factory.mktemp("motifs") / "data", count=30, size=128)


@pytest.fixture(scope="module")
def trained(motifs: Path, tmp_path_factory):
    output = tmp_path_factory.mktemp("trained") / "motifs.safetensors"
    epochs = []
    result = train(motifs, output, FAST, on_epoch=epochs.append)
    return result, epochs


def test_training_learns_the_motifs_and_writes_a_self_describing_file(trained):
    result, epochs = trained
    assert result.val_accuracy >= 0.9
    assert set(result.per_class) == {"rings", "stripes", "triangles"} and min(result.per_class.values()) >= 0.8
    assert result.images == (72, 18)  # 20% of each class of 30 held out
    assert [e.epoch for e in epochs] == list(range(1, len(epochs) + 1)) and epochs[-1].left == 0
    info = read_info(result.output)
    assert info.base == "efficientnet-lite0" and info.classes == ("rings", "stripes", "triangles")
    assert info.image_size == 160 and info.mean == (0.5, 0.5, 0.5)
    report = json.loads(result.report.with_suffix(".json").read_text())
    assert report["confusion"] and sum(map(sum, report["confusion"])) == 18
    with Image.open(result.report) as picture:
        assert picture.size[0] > 500
    assert result.output.with_name("motifs.checkpoint.pt").is_file()


def test_a_class_dream_grows_the_trained_motif(trained):
    """An unrelated photo, dreamed with --class of a trained motif: the trained network's
    probability of that class rises from below 0.5 to at least 0.9."""
    result, _ = trained
    net = load_model(weights=str(result.output))
    photo = EXAMPLES / "coffee.jpg"
    before = {name: p for _, name, p in top_classes(net, photo, k=3)}
    motif = min(before, key=before.get)
    dream = inceptionism.render(photo, weights=str(result.output), target_class=motif, max_size=400, steps=20, seed=1)
    after = {name: p for _, name, p in top_classes(net, dream.image, k=3)}
    assert before[motif] < 0.5 and after[motif] >= 0.9, (motif, before, after)
    assert dream.config.model == "efficientnet-lite0"


def test_a_layer_dream_differs_with_the_trained_weights(trained):
    result, _ = trained
    base = inceptionism.render(EXAMPLES / "coffee.jpg", max_size=192, seed=2, octaves=2)
    mine = inceptionism.render(EXAMPLES / "coffee.jpg", max_size=192, seed=2, octaves=2, weights=str(result.output))
    assert base.config.layers == mine.config.layers
    difference = np.abs(np.asarray(base.image, dtype=float) - np.asarray(mine.image, dtype=float)).mean()
    assert difference > 4.0, difference  # of 255: visible (the same dream with the same weights differs by 0)


def test_resume_continues_from_the_last_finished_epoch(motifs: Path, tmp_path: Path):
    output = tmp_path / "m.safetensors"
    cfg = TrainConfig(image_size=64, epochs=3, patience=10, seed=4)

    def stop_after_first(epoch) -> None:
        if epoch.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(motifs, output, cfg, on_epoch=stop_after_first)
    assert not output.exists() and output.with_name("m.checkpoint.pt").is_file()
    seen = []
    result = train(motifs, output, TrainConfig(**{**cfg.__dict__, "resume": True}), on_epoch=seen.append)
    assert [e.epoch for e in seen] == [2, 3] and result.epochs == 3
    assert json.loads(result.report.with_suffix(".json").read_text())["history"][0]["epoch"] == 1
    with pytest.raises(ConfigError, match="image_size 64, not 96"):
        train(motifs, output, TrainConfig(**{**cfg.__dict__, "resume": True, "image_size": 96}))


def _folder(root: Path, classes: dict[str, int]) -> Path:
    source = sorted((EXAMPLES).glob("*.jpg"))
    for name, count in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            shutil.copy(source[i % len(source)], root / name / f"{i}.jpg")
    return root


@pytest.mark.parametrize(
    "classes, message",
    [
        ({"cats": 3}, "has one class folder (cats); training needs at least 2"),
        ({"cats": 3, "dogs": 0}, "has no readable image"),
        ({"Cats": 3, "cats": 3}, "differ only in case"),
        ({"cats": 3, "7": 3}, "may not hold a comma, be a number"),
        ({"cats": 3, "dogs": 1}, "class 'dogs' has 1 readable image; at least 2"),
    ],
)
def test_bad_training_data_is_a_one_line_error_and_writes_nothing(tmp_path: Path, classes, message):
    data = _folder(tmp_path / "data", classes)
    output = tmp_path / "m.safetensors"
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        train(data, output, FAST)
    assert "\n" not in str(info.value) and list(tmp_path.glob("m.*")) == []


def test_unreadable_files_are_skipped_and_listed(motifs: Path, tmp_path: Path):
    data = tmp_path / "data"
    for name in ("rings", "stripes"):
        shutil.copytree(motifs / name, data / name)
    (data / "rings" / "notes.txt").write_text("not a picture")
    (data / "stripes" / "broken.jpg").write_bytes((motifs / "stripes" / "stripes-000.jpg").read_bytes()[:200])
    result = train(data, tmp_path / "m.safetensors", TrainConfig(image_size=64, epochs=1))
    assert sorted(p.name for p, _ in result.skipped) == ["broken.jpg", "notes.txt"]
    assert all("not an image" in why or "corrupt" in why for _, why in result.skipped)
    assert result.images == (48, 12)


def test_output_must_be_safetensors(motifs: Path, tmp_path: Path):
    with pytest.raises(OutputError, match="must end in .safetensors"):
        train(motifs, tmp_path / "m.pt", FAST)


def test_trained_weights_on_another_network_name_it(trained):
    with pytest.raises(ModelError, match="trained from efficientnet-lite0, not efficientnet-lite1"):
        load_model("efficientnet-lite1", weights=str(trained[0].output))


def test_a_trained_network_by_name_takes_no_other_weights(trained, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_DATA", str(tmp_path))
    (tmp_path / "networks").mkdir()
    shutil.copy(trained[0].output, tmp_path / "networks" / "shapes.safetensors")
    assert "trained/shapes" in inceptionism.list_models()
    mine = load_model("trained/shapes", cache=False)
    assert mine.spec.labels == ("rings", "stripes", "triangles") and mine.weights_sha256 != "random"
    assert load_model("trained/shapes", weights="random", cache=False).weights_sha256 == "random"
    with pytest.raises(ModelError, match="brings its own weights"):
        load_model("trained/shapes", weights=str(trained[0].output))


def test_classify_prints_path_class_probability(trained, tmp_path: Path):
    runner = CliRunner()
    motif = trained[0].output
    sample = tmp_path / "rings.png"
    _make_motifs().draw("rings", random.Random(99), 128).save(sample)
    result = runner.invoke(app, ["classify", str(sample), str(EXAMPLES / "chelsea.jpg"), "--weights", str(motif)])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert [(path, name) for path, name, _ in lines][0] == (str(sample), "rings")
    assert len(lines) == 2 and all(0 < float(p) <= 1 for _, _, p in lines)
    result = runner.invoke(app, ["classify", str(EXAMPLES / "chelsea.jpg"), "--top", "3"])  # the bundled ImageNet net
    lines = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert result.exit_code == 0 and len(lines) == 3 and "cat" in lines[0][1]
    assert float(lines[0][2]) >= float(lines[1][2]) >= float(lines[2][2])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"nope")
    result = runner.invoke(app, ["classify", str(broken), str(sample), "--weights", str(motif)])
    assert result.exit_code == 3 and result.stdout.startswith(f"{sample}\trings\t")


def test_every_front_door_knows_the_new_classes(trained, tmp_path: Path):
    runner = CliRunner()
    weights = str(trained[0].output)
    listed = runner.invoke(app, ["classes", "--weights", weights])
    assert listed.exit_code == 0 and listed.stdout.split() == ["index", "name", "0", "rings", "1", "stripes", "2", "triangles"]
    shown = runner.invoke(app, ["visualize", "class", "stripes", "-o", str(tmp_path / "v.png"), "--weights", weights,
                                "--size", "64", "--octaves", "1", "--steps", "3", "-q"])
    assert shown.exit_code == 0, shown.output
    unknown = runner.invoke(app, ["dream", str(EXAMPLES / "chelsea.jpg"), "-o", str(tmp_path / "d.png"), "--weights",
                                  weights, "--class", "tabby"])
    assert unknown.exit_code == 2 and "unknown class 'tabby'" in unknown.output
    common = [str(EXAMPLES / "chelsea.jpg"), "--weights", weights, "--max-size", "64", "--steps", "2", "--seed", "1", "-q"]
    avoided = runner.invoke(app, ["dream", *common, "-o", str(tmp_path / "d.png"), "--avoid-class", "stripes"])
    assert avoided.exit_code == 0, avoided.output
    assert runner.invoke(app, ["dream", *common, "-o", str(tmp_path / "plain.png")]).exit_code == 0
    net = load_model(weights=weights)

    def stripes(path: Path) -> float:
        return next(p for _, name, p in top_classes(net, path, k=3, crop=False) if name == "stripes")  # seen whole

    assert stripes(tmp_path / "d.png") < stripes(tmp_path / "plain.png")  # the avoided class lost ground


def test_the_studio_offers_trained_networks_from_its_data_folder(trained, tmp_path: Path, small_photo: Path):
    from .support import studio_client, submit, wait

    data = tmp_path / "data"
    (data / "networks").mkdir(parents=True)
    shutil.copy(trained[0].output, data / "networks" / "my-motifs.safetensors")
    with studio_client(data, workers=1) as client:
        rows = {row["name"]: row for row in client.get("/api/models").json()}
        assert rows["trained/my-motifs"]["available"] and rows["trained/my-motifs"]["classes"]
        listed = client.get("/api/classes", params={"model": "trained/my-motifs"}).json()
        assert listed["classes"] == ["rings", "stripes", "triangles"] and listed["groups"] == []
        job = submit(client, small_photo.read_bytes(), model="trained/my-motifs", target_class="rings", steps=2,
                     octaves=1, max_size=64, seed=1).json()
        done = wait(client, job["id"])
        assert done["status"] == "done", done
        bad = submit(client, small_photo.read_bytes(), model="trained/my-motifs", target_class="tabby", steps=2)
        assert bad.status_code == 422 and "unknown class 'tabby'" in bad.text


def test_training_shows_a_progress_bar_only_when_asked(motifs: Path, tmp_path: Path, capfd):
    epochs: list = []
    train(motifs, tmp_path / "m.safetensors", TrainConfig(image_size=64, epochs=1, seed=0), on_epoch=epochs.append,
          progress=True)
    shown = capfd.readouterr().err
    assert len(epochs) == 1 and "train" in shown and "1/1" in shown and "val_accuracy=" in shown


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_training_learns_whatever_grad_mode_the_caller_set(tmp_path, mode):
    import torch

    data = _make_motifs().make_set(tmp_path / "data", count=12, size=64)
    seen = []
    with getattr(torch, mode)():
        result = train(data, tmp_path / "m.safetensors", TrainConfig(image_size=64, epochs=3, patience=3, seed=0),
                       on_epoch=seen.append)
    assert result.output.is_file()
    assert seen[-1].loss < seen[0].loss  # the optimizer moved the weights: the training loss fell


def test_train_refuses_a_class_folder_whose_name_is_not_utf8(tmp_path, small_photo):
    data = tmp_path / "data"
    for name in (b"good", b"bad-\xff"):
        folder = data / os.fsdecode(name)
        folder.mkdir(parents=True)
        (folder / "a.png").write_bytes(small_photo.read_bytes())
    one_line(invoke("train", data, "-o", tmp_path / "net.safetensors", "--epochs", "1", "-q"), 2, "is not valid UTF-8")
    assert list(tmp_path.glob("net*")) == []


def test_train_refuses_an_output_that_is_a_folder_before_training(tmp_path):
    (tmp_path / "net.safetensors").mkdir()
    one_line(invoke("train", tmp_path, "-o", tmp_path / "net.safetensors"), 6, "is a directory")
