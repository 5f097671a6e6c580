"""Concepts: dictionaries learned over a layer, a concept as a term of the objective
language, and the command's evidence (exemplars, class importance, causal drop, sanity),
on a tiny folder of the example photos and their crops, with the bundled real weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from inceptionism.command_config import ConceptsConfig
from inceptionism.dictionaries import ConceptDictionary, load_dictionary, save_dictionary
from inceptionism.errors import ConfigError, InceptionismError

from .support import EXAMPLES, invoke, one_line, plain

LAYER = "blocks.5.0.bn1"
TINY = ConceptsConfig(k=4, samples=3000, views=2, top=3, size=64, steps=12, seed=3)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four example photos and two crops of each, in a folder with a subfolder, and one
    file that is no picture (listed and skipped)."""
    folder = tmp_path_factory.mktemp("photos")
    (folder / "crops").mkdir()
    for photo in sorted(EXAMPLES.glob("*.jpg")):
        shutil.copy(photo, folder / photo.name)
        im = Image.open(photo).convert("RGB")
        w, h = im.size
        im.crop((0, 0, w // 2, h // 2)).save(folder / "crops" / f"{photo.stem}-a.png")
        im.crop((w // 2, h // 2, w, h)).save(folder / "crops" / f"{photo.stem}-b.png")
    (folder / "notes.jpg").write_bytes(b"not a picture")
    return folder


@pytest.fixture(scope="module")
def learned(model, photos: Path, tmp_path_factory: pytest.TempPathFactory):
    """``inceptionism concepts`` run once on the tiny folder."""
    out = tmp_path_factory.mktemp("concepts") / "out"
    result = invoke("concepts", LAYER, photos, "-o", out, "--k", TINY.k, "--samples", TINY.samples, "--top", TINY.top,
                    "--size", TINY.size, "--steps", TINY.steps, "--seed", TINY.seed, "-q")
    assert result.exit_code == 0, result.output
    return out, result.output


def test_the_command_writes_the_dictionary_pictures_json_and_page(learned, photos: Path) -> None:
    out, output = learned
    assert "skipped" in output and "notes.jpg" in output  # the file that is no picture, listed
    report = json.loads((out / "concepts.json").read_text())
    recipe = report["recipe"]
    assert (recipe["network"], recipe["layer"], recipe["method"], recipe["k"], recipe["seed"], recipe["photos"]) == (
        "efficientnet-lite0", LAYER, "nmf", 4, 3, 12)
    assert len(recipe["weights_sha256"]) == 64 and recipe["samples"] == 3000 and recipe["positions"] > 3000
    concepts = report["concepts"]
    assert sorted(c["index"] for c in concepts) == [0, 1, 2, 3]
    assert [c["importance"] for c in concepts] == sorted((c["importance"] for c in concepts), reverse=True)
    page = (out / "index.html").read_text()
    for c in concepts:
        assert (out / c["pictures"][0]).is_file() and (out / c["examples"]).is_file()
        assert len(c["exemplars"]) == 3 and all(Path(e["photo"]).is_relative_to(photos) for e in c["exemplars"])
        assert c["classes"] and all(isinstance(k["name"], str) for k in c["classes"])
        assert set(c["causal"]) == {"logit_drop", "probability_drop", "random_logit_drop", "random_probability_drop"}
        assert 1 <= c["sanity"]["rank"] <= 4 and c["sanity"]["of"] == 4
        assert c["pictures"][0] in page and c["examples"] in page and f"concept {c['index']}" in page
        assert c["term"] == f"concept:{out / 'dictionary.safetensors'}:{c['index']}"
    # pages come in importance order
    assert [page.index(f'id="c{c["index"]}"') for c in concepts] == sorted(page.index(f'id="c{c["index"]}"')
                                                                           for c in concepts)
    sheet = Image.open(out / concepts[0]["examples"])
    assert sheet.size == (3 * 112, 2 * 112)  # the crops, and beneath them their heatmaps


def test_the_dictionary_explains_the_layer_better_than_random_atoms(model, learned, photos: Path) -> None:
    from inceptionism.featurevis.examples import photo_files
    from inceptionism.featurevis.dictionary_learning import measure, sample_activations

    out, _ = learned
    learned_dict = load_dictionary(out / "dictionary.safetensors")
    assert learned_dict.atoms.shape == (4, 672) and bool((learned_dict.atoms >= 0).all())  # NMF's atoms
    sample = sample_activations(model, LAYER, photo_files(photos), capacity=2000, views=1, seed=9)
    own = measure(learned_dict, sample.vectors)
    recorded = learned_dict.recipe["measures"]
    gen = torch.Generator().manual_seed(0)
    random_atoms = torch.nn.functional.normalize(torch.rand(4, 672, generator=gen), dim=1)
    chance = measure(ConceptDictionary(random_atoms, "nmf", {"layer": LAYER}), sample.vectors)
    assert own["variance_explained"] > 0.15 and own["variance_explained"] > chance["variance_explained"] + 0.1
    assert recorded["variance_explained"] > 0.2 and recorded["dead"] == 0


def test_a_dictionary_is_saved_and_read_back_whole(tmp_path: Path) -> None:
    atoms = torch.nn.functional.normalize(torch.rand(3, 8), dim=1)
    encoder = {"weight": torch.randn(3, 8), "bias": torch.zeros(3), "center": torch.randn(8), "scale": torch.tensor(2.0)}
    recipe = {"network": "n", "weights_sha256": "ab", "layer": "blocks.1", "topk": 2}
    path = save_dictionary(tmp_path / "d.safetensors", ConceptDictionary(atoms, "sae", recipe, encoder))
    back = load_dictionary(path)
    assert torch.equal(back.atoms, atoms) and back.method == "sae" and back.layer == "blocks.1" and back.k == 3
    assert all(torch.equal(back.encoder[n], t) for n, t in encoder.items())
    codes = back.encode(torch.randn(5, 8))
    assert codes.shape == (5, 3) and bool((codes >= 0).all()) and int((codes > 0).sum(1).max()) <= 2  # TopK


def test_the_sae_learns_reproducibly_by_seed_and_stops_early() -> None:
    from inceptionism.featurevis.dictionary_learning import learn_sae

    gen = torch.Generator().manual_seed(1)
    atoms = torch.nn.functional.normalize(torch.randn(6, 16, generator=gen), dim=1)
    codes = torch.rand(6000, 6, generator=gen) * (torch.rand(6000, 6, generator=gen) < 0.3)
    x = codes @ atoms
    epochs: list[float] = []
    first = learn_sae(x, 6, 2, seed=4, epochs=200, on_epoch=lambda e, n, err: epochs.append(err))
    again = learn_sae(x, 6, 2, seed=4, epochs=200)
    assert all(torch.equal(first[n], again[n]) for n in first)
    assert len(epochs) < 200 and min(epochs) < 0.6 * epochs[0]  # it learned, then stopped when it no longer did


def test_the_sample_is_bounded_and_uniform_over_the_stream() -> None:
    from inceptionism.featurevis.dictionary_learning import _Reservoir

    reservoir = _Reservoir(500, torch.Generator().manual_seed(0))
    for start in range(0, 20_000, 700):  # a stream of rows numbered 0 .. 19,999, in batches
        rows = torch.arange(start, min(start + 700, 20_000), dtype=torch.float32)[:, None]
        reservoir.add(rows)
    kept = reservoir.sample()[:, 0]
    assert kept.shape == (500,) and reservoir.seen == 20_000 and len(set(kept.tolist())) == 500
    assert abs(float(kept.mean()) - 10_000) < 1_000  # early and late rows alike (a biased sample is far off)


def test_a_concept_term_dreams_and_visualizes(model, learned) -> None:
    from inceptionism.featurevis import FeatureVisConfig, visualize_features
    from inceptionism.objectives import parse_terms, term_text

    out, _ = learned
    text = f"concept:{out / 'dictionary.safetensors'}:1"
    (term,) = parse_terms(text)
    assert (term.layer, term.channel, term.kind) == (LAYER, 1, "concept") and term_text(term) == text
    from inceptionism.featurevis import target_text

    assert target_text(term) == f"{out / 'dictionary.safetensors'}:1"  # two dictionaries' concept 1 differ
    dreamed = out.parent / "dream.png"
    result = invoke("dream", EXAMPLES / "chelsea.jpg", "-o", dreamed, "--layers", text, "--seed", 1, "--steps", 10,
                    "--octaves", 2, "--max-size", 160)
    assert result.exit_code == 0, result.output
    before, after = (float(v) for v in plain(result.output).split("objective ")[1].split(" (")[0].split(" -> "))
    assert after > before * 1.3  # the dream moved the photo towards the concept
    few, more = (visualize_features(model, [term], FeatureVisConfig(size=64, steps=steps, seed=2, param="fft"))[0]
                 for steps in (1, 24))
    assert more.score > 2 * few.score > 0


def test_the_evidence_is_what_it_says(model, learned, photos: Path) -> None:
    """The class importance is the logit's derivative along the concept (a finite difference
    agrees), and the causal drop is the logit with the concept's component taken out."""
    from inceptionism.concepts import Exemplar, _codes, describe
    from inceptionism.featurevis.examples import read_photos
    from inceptionism.taps import edited

    out, _ = learned
    d = load_dictionary(out / "dictionary.safetensors")
    report = json.loads((out / "concepts.json").read_text())
    concept = report["concepts"][0]
    k = concept["index"]
    path = Path(concept["exemplars"][0]["photo"])
    (_, x), = read_photos([path], model.spec.input_size, model.device)
    with edited(model, LAYER) as run, torch.no_grad():
        assert torch.allclose(run(x), model(x), atol=1e-4)  # unchanged without a change
        base = run(x)[0]
        top = int(base.argmax())
        step = 1e-2
        along = run(x, lambda a: step * torch.einsum("hw,c->chw", _codes(d, a[0])[k], d.atoms[k])[None])[0]
        without = run(x, lambda a: -torch.einsum("hw,c->chw", _codes(d, a[0])[k], d.atoms[k])[None])[0]
        silenced = run(x, lambda a: -a)[0]
    eps = torch.zeros(d.k, requires_grad=True)
    with edited(model, LAYER) as run:
        logits = run(x, lambda a: torch.einsum("k,khw,kc->chw", eps, _codes(d, a[0]), d.atoms)[None])[0]
        (grad,) = torch.autograd.grad(logits[top], eps)
    assert float(grad[k]) == pytest.approx(float(along[top] - base[top]) / step, rel=0.05, abs=1e-3)
    assert float((base - silenced).abs().max()) > 1.0  # the change reaches the logits
    # what the command reports, for this one photo as every concept's only exemplar
    one = Exemplar(1.0, path, (0, 0, 1, 1), torch.zeros(1, 1))
    described = {c.index: c for c in describe(model, d, {j: [one] for j in range(d.k)}, seed=0)}[k]
    assert dict(described.classes)[top] == pytest.approx(float(grad[k]), rel=1e-3, abs=1e-5)
    assert described.importance == pytest.approx(float(grad[k]), rel=1e-3, abs=1e-5)
    assert described.causal["logit_drop"] == pytest.approx(float(base[top] - without[top]), rel=1e-3, abs=1e-4)
    assert described.causal["random_logit_drop"] != described.causal["logit_drop"]


@pytest.mark.parametrize("damage, words", [
    ("network", "was learned on network 'efficientnet-lite1', not 'efficientnet-lite0'"),
    ("weights", "was learned on other weights of efficientnet-lite0"),
    ("layer", "was not learned on layer 'blocks.4.1.bn1' of efficientnet-lite0"),
    ("width", "has 672-channel atoms; layer 'blocks.4.0.bn1' has 480 channels"),
    ("nan", "atoms that are not finite numbers"),
    ("shape", "has atoms of shape (4,); expected (4, channels)"),
    ("recipe", "is a safetensors file but no concept dictionary"),
    ("png", "is not a dictionary (not a safetensors file"),
])
def test_a_bad_dictionary_is_one_line_before_any_work(learned, tmp_path: Path, damage: str, words: str) -> None:
    from safetensors.torch import load_file, save_file

    out, _ = learned
    good = out / "dictionary.safetensors"
    bad = tmp_path / "bad.safetensors"
    d = load_dictionary(good)
    recipe = dict(d.recipe)
    atoms = d.atoms.clone()
    if damage == "png":
        shutil.copy(EXAMPLES / "chelsea.jpg", bad)
    elif damage == "recipe":
        save_file(load_file(good), bad)
    else:
        if damage in ("network", "weights", "layer", "width"):
            recipe.update({"network": "efficientnet-lite1"} if damage == "network" else
                          {"weights_sha256": "0" * 64} if damage == "weights" else
                          {"layer": "blocks.4.1.bn1"} if damage == "layer" else {"layer": "blocks.4.0.bn1"})
        elif damage == "nan":
            atoms[1, 5] = float("nan")
        if damage == "shape":
            save_file({"atoms": atoms[:, 0].contiguous()}, bad, metadata={"inceptionism_dictionary": json.dumps(recipe)})
        else:
            save_file({"atoms": atoms}, bad, metadata={"inceptionism_dictionary": json.dumps(recipe)})
    dreamed = tmp_path / "dream.png"
    one_line(invoke("dream", EXAMPLES / "chelsea.jpg", "-o", dreamed, "--layers", f"concept:{bad}:1", "-q"), 4 if damage in ("layer", "width") else 2,
             words)
    assert not dreamed.exists()
    one_line(invoke("visualize", "concept", f"{bad}:1", "-o", dreamed, "--param", "fft", "-q"),
             4 if damage in ("layer", "width") else 2, words)


def test_bad_terms_and_folders_are_one_line(learned, tmp_path: Path) -> None:
    out, _ = learned
    good = out / "dictionary.safetensors"
    dreamed = tmp_path / "d.png"
    one_line(invoke("dream", EXAMPLES / "chelsea.jpg", "-o", dreamed, "--layers", f"concept:{good}:4", "-q"), 4,
             "concept 4 in")
    one_line(invoke("dream", EXAMPLES / "chelsea.jpg", "-o", dreamed, "--layers", f"concept:{good}", "-q"), 2,
             "is not of the form concept:DICTIONARY.safetensors:INDEX")
    one_line(invoke("dream", EXAMPLES / "chelsea.jpg", "-o", dreamed, "--layers", f"concept:{tmp_path}/none:1", "-q"), 2,
             "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, words in ((tmp_path / "missing", "is not a folder"), (empty, "holds no pictures")):
        one_line(invoke("concepts", LAYER, folder, "-o", tmp_path / "c"), 2, words)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"nope")
    one_line(invoke("concepts", LAYER, broken, "-o", tmp_path / "c", "--k", 2, "-q"), 2, "could be read")
    one_line(invoke("concepts", "blocks.99", EXAMPLES, "-o", tmp_path / "c"), 4, "blocks.99")
    one_line(invoke("concepts", LAYER, EXAMPLES, "-o", EXAMPLES / "out"), 6, "inside the photo folder")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


def test_the_studio_never_reads_a_file_a_request_names(learned, tmp_path: Path, monkeypatch) -> None:
    import inceptionism.dictionaries as dictionaries
    from inceptionism.doors.limits import ApiError, Limits, check_params, check_picture_request

    out, _ = learned
    good = str(out / "dictionary.safetensors")
    probe = tmp_path / "secret.safetensors"
    probe.write_bytes(b"x")
    read: list[str] = []
    monkeypatch.setattr(dictionaries, "_load", lambda *args: read.append(args[0]))
    monkeypatch.setattr(dictionaries, "load_dictionary", lambda path: read.append(path))  # not even a stat
    for text in (f"concept:{probe}:1", f"blocks.5.0.bn1:3, concept:{probe}:0*2", f"concept:{good}:0"):
        with pytest.raises(ApiError) as refused:
            check_params({"layers": text}, Limits(), files=frozenset({"/elsewhere/dictionary.safetensors"}))
        assert refused.value.status == 422 and "does not offer" in str(refused.value)
    with pytest.raises(ApiError) as refused:
        check_picture_request(json.dumps({"targets": f"{probe}:1"}).encode(), Limits(), layer="concept")
    assert refused.value.status == 422 and "does not offer" in str(refused.value)
    from inceptionism.concept_report import FILE_NAME

    assert [bool(FILE_NAME.fullmatch(n)) for n in ("concept-007.png", "concept-1234-examples.jpg", "concept-012-2.png",
                                                   "../concept-007.png", "concept-007.png\n", "concepts.json",
                                                   "dictionary.safetensors")] == [True, True, True] + [False] * 4
    assert read == []  # refused before any file was opened
    monkeypatch.undo()
    _, cfg = check_params({"layers": f"concept:{good}:0"}, Limits(), files=frozenset({good}))  # one it offers
    assert cfg.layers == f"concept:{good}:0"


@pytest.mark.parametrize("method", ["nmf", "sae"])
def test_a_transformer_token_layer_has_concepts(photos: Path, tmp_path: Path, method: str) -> None:
    """Random weights (none are on this machine for a transformer): the whole path runs on a
    token grid, and the causal drop's change goes back into the token layout."""
    out = tmp_path / "vit"
    result = invoke("concepts", "blocks.5", photos, "-o", out, "--model", "timm/vit_tiny_patch16_224", "--weights",
                    "random", "--k", 3, "--samples", 1500, "--top", 2, "--size", 48, "--steps", 4, "--seed", 1,
                    "--method", method, "--pictures", 2, "-q")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "concepts.json").read_text())
    assert report["recipe"]["network"] == "timm/vit_tiny_patch16_224" and len(report["concepts"]) == 3
    page = (out / "index.html").read_text()
    for c in report["concepts"]:  # both pictures in the card's first column, one block
        assert c["pictures"] == [f"concept-{c['index']:03d}-0.png", f"concept-{c['index']:03d}-1.png"]
        assert f'<div class="pics"><img class="pic" src="{c["pictures"][0]}"' in page
        assert f'<img class="pic" src="{c["pictures"][1]}" alt="concept {c["index"]}" loading="lazy"></div>' in page
    assert load_dictionary(out / "dictionary.safetensors").atoms.shape == (3, 192)
    assert any(c["causal"]["logit_drop"] != 0 for c in report["concepts"])


def test_an_edit_of_a_token_layer_lands_on_its_patches_alone(photos: Path) -> None:
    """taps.edited turns the change of a (B, C, H, W) map back into the token sequence: the
    class token stays as it was, the patch tokens take the change."""
    from inceptionism.models import load_model
    from inceptionism.taps import capture, edited

    vit = load_model("timm/vit_tiny_patch16_224", weights="random")
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    seen: list[torch.Tensor] = []
    block = dict(vit.net.named_modules())["blocks.5"]
    with torch.no_grad(), capture(vit, ["blocks.5"]) as run:
        grid = run(x)["blocks.5"]
    with torch.no_grad(), edited(vit, "blocks.5") as run:
        handle = block.register_forward_hook(lambda m, i, out: seen.append(out.detach().clone()))
        try:
            plain = run(x)
            silenced = run(x, lambda a: -a)
            doubled = run(x, lambda a: a.clone())
        finally:
            handle.remove()
    original, zeroed, twice = seen
    assert grid.shape == (1, 192, 14, 14) and original.shape == (1, 197, 192)
    assert torch.equal(zeroed[:, 0], original[:, 0]) and float(zeroed[:, 1:].abs().max()) == 0.0
    assert torch.allclose(twice[:, 1:], 2 * original[:, 1:]) and torch.equal(twice[:, 0], original[:, 0])
    assert not torch.allclose(plain, silenced)


def test_errors_are_inceptionism_errors() -> None:
    with pytest.raises(InceptionismError):
        ConceptsConfig(k=0)
    with pytest.raises(ConfigError):
        ConceptsConfig(method="pca")
    with pytest.raises(ConfigError, match="topk is the sparse autoencoder's"):
        ConceptsConfig(topk=3)
    with pytest.raises(ConfigError, match="topk 8 is more than the 4 concepts"):
        ConceptsConfig(method="sae", k=4, topk=8)
    with pytest.raises(ConfigError, match="k 300 concepts cannot be learned from 100 samples"):
        ConceptsConfig(k=300, samples=100)


def test_the_studio_shows_a_layers_concepts_and_dreams_towards_one(learned, tmp_path: Path) -> None:
    from .support import studio_client, submit, wait

    out, _ = learned
    with studio_client(tmp_path / "data", workers=1, concepts=out.parent) as client:
        sets = client.get("/api/concepts", params={"model": "efficientnet-lite0", "layer": LAYER}).json()["sets"]
        assert [(s["name"], s["method"], s["k"], len(s["concepts"])) for s in sets] == [("out", "nmf", 4, 4)]
        assert client.get("/api/concepts", params={"layer": "blocks.4.1.bn1"}).json() == {"sets": []}
        chosen = sets[0]["concepts"][0]
        assert chosen["term"] == f"concept:{(out / 'dictionary.safetensors').resolve()}:{chosen['index']}"
        picture = client.get(chosen["picture"])
        assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert client.get(chosen["examples"]).status_code == 200
        for other in ("dictionary.safetensors", "concepts.json", "..%2F..%2Fsecret"):
            assert client.get(f"/api/concepts/out/{other}").status_code == 404
        job = submit(client, size=[80, 64], steps=3, octaves=1, seed=1, layers=chosen["term"])
        assert job.status_code == 202, job.text
        done = wait(client, job.json()["id"])
        assert done["status"] == "done" and done["config"]["layers"] == chosen["term"]
        assert done["score_end"] > done["score_start"]  # the noise moved towards the concept
        refused = submit(client, size=[80, 64], steps=3, layers=f"concept:{tmp_path / 'none.safetensors'}:0")
        assert refused.status_code == 422 and "does not offer" in refused.text
    with studio_client(tmp_path / "data2", workers=0, concepts=out) as client:  # the folder is one output itself
        (found,) = client.get("/api/concepts").json()["sets"]
        assert found["name"] == "-" and client.get(found["concepts"][0]["picture"]).status_code == 200


def test_the_gallery_shows_a_layers_concepts(learned, tmp_path: Path) -> None:
    out, _ = learned
    gallery = tmp_path / "gallery"
    result = invoke("gallery", LAYER, "-o", gallery, "--size", 32, "--steps", 1, "--seed", 1, "--concepts", out.parent,
                    "-q")
    assert result.exit_code == 0, result.output
    assert "4 concepts" in result.output
    page = (gallery / "index.html").read_text()
    assert page.count('class="concept"') == 4 and "<h2>Concepts</h2>" in page
    shown = sorted((gallery / "concepts" / "out").iterdir())
    assert [p.name for p in shown] == [f"concept-00{k}.png" for k in range(4)]
    assert all(f'src="concepts/out/{p.name}"' in page for p in shown)
    # a concepts.json edited to name files elsewhere: those records are left out, nothing is read or written there
    forged = tmp_path / "forged" / "set"
    shutil.copytree(out, forged)
    report = json.loads((forged / "concepts.json").read_text())
    report["concepts"][0]["pictures"] = ["../../secret.png"]
    report["concepts"][1]["pictures"] = [str(tmp_path / "secret.png")]
    (tmp_path / "secret.png").write_bytes((forged / "concept-000.png").read_bytes())
    (forged / "concepts.json").write_text(json.dumps(report))
    result = invoke("gallery", LAYER, "-o", tmp_path / "g3", "--size", 32, "--steps", 1, "--seed", 1, "--concepts",
                    forged.parent, "-q")
    assert result.exit_code == 0 and "2 concepts" in result.output, result.output
    assert sorted(p.name for p in (tmp_path / "g3" / "concepts" / "set").iterdir()) == sorted(
        report["concepts"][k]["pictures"][0] for k in (2, 3))
    one_line(invoke("gallery", LAYER, "-o", out / "gallery", "--concepts", out.parent, "-q"), 6, "inside the concepts folder")
    one_line(invoke("gallery", "blocks.4.1.bn1", "-o", tmp_path / "g2", "--concepts", out.parent, "-q"), 2,
             "holds no concepts of efficientnet-lite0 layer 'blocks.4.1.bn1' (it holds efficientnet-lite0 blocks.5.0.bn1)")
    assert not (tmp_path / "g2").exists()


def test_a_run_that_fails_leaves_no_dictionary_behind(model, photos: Path, tmp_path: Path, monkeypatch) -> None:
    import inceptionism.concepts as concepts
    from inceptionism.concept_report import concepts as learn

    def broken(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the pictures grow

    monkeypatch.setattr(concepts, "draw", broken)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        learn(LAYER, photos, out, model=model, k=2, samples=500, top=1, seed=0)
    assert sorted(p.name for p in out.iterdir()) == []  # neither the dictionary nor its hidden copy
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(EXAMPLES / "chelsea.jpg", one)
    one_line(invoke("concepts", LAYER, one, "-o", tmp_path / "c", "-q"), 2, "1 readable photo; concepts need at least 2")
    one_line(invoke("concepts", LAYER, photos, "-o", tmp_path / "a,b", "-q"), 2, "cannot be written in a term")


def test_the_random_directions_lie_where_the_layer_does(learned) -> None:
    from inceptionism.concepts import RANDOM_DIRECTIONS, _random_directions

    out, _ = learned
    d = load_dictionary(out / "dictionary.safetensors")
    assert d.recipe["nonnegative"] is True  # a layer after a ReLU6
    randoms = _random_directions(d, seed=0)
    assert randoms.shape == (4, RANDOM_DIRECTIONS, 672) and bool((randoms >= 0).all())
    assert torch.allclose(randoms.norm(dim=-1), torch.ones(4, RANDOM_DIRECTIONS))
    signed = ConceptDictionary(d.atoms, d.method, {**d.recipe, "nonnegative": False})
    assert bool((_random_directions(signed, seed=0) < 0).any())


def test_a_report_that_fails_leaves_the_old_one_whole(model, photos: Path, tmp_path: Path, monkeypatch) -> None:
    """A photo gone since it was read leaves a blank place on its sheet; a failure while the
    report is written leaves the earlier dictionary beside its own concepts.json."""
    import inceptionism.concept_report as report
    from inceptionism.concept_report import concepts as learn

    copy = tmp_path / "photos"
    shutil.copytree(photos, copy)
    out = tmp_path / "out"
    learn(LAYER, copy, out, model=model, k=2, samples=500, top=2, size=32, steps=2, seed=0)
    before = {name: (out / name).read_bytes() for name in ("dictionary.safetensors", "concepts.json")}
    monkeypatch.setattr(report, "exemplar_sheet", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        learn(LAYER, copy, out, model=model, k=3, samples=500, top=2, size=32, steps=2, seed=1)
    assert {name: (out / name).read_bytes() for name in before} == before
    monkeypatch.undo()
    sheet = report.exemplar_sheet([report.Exemplar(1.0, tmp_path / "gone.jpg", (0, 0, 1, 1), torch.ones(2, 2))])
    assert sheet.size == (112, 224) and sheet.getpixel((50, 50)) == (255, 255, 255)
