"""A blind panel: can people name our class pictures? (docs/featurevis.md, "Blind panel")

Two steps, with viewers in between who have seen neither the key, nor the docs, nor the code,
nor another grid (one fresh viewer a grid: nothing carries over):

    .venv/bin/python benchmarks/blind_panel.py make --list benchmark --methods fft --out /tmp/panel
    #   -> /tmp/panel/grid-benchmark-fft.png (numbered tiles, its own shuffled order, no labels)
    #      /tmp/panel/key/key-benchmark-fft.json (kept apart: never shown to a viewer)
    #   a viewer writes /tmp/panel/answers-benchmark-fft.json (more viewers: answers-benchmark-fft@2.json):
    #      {"1": {"name": "a volcano", "confidence": "high"}, "2": {"name": "", "confidence": "none"}, ...}
    .venv/bin/python benchmarks/blind_panel.py score --out /tmp/panel

What a viewer is told, and nothing more: VIEWER_BRIEF below. ``score`` prints per grid the
tiles named right at medium or high confidence, and all tiles named right (any confidence),
a name being right when it contains the class's name or one of its synonyms (SYNONYMS).

Lists: ``benchmark`` is the feature-visualization benchmark's 20 classes
(benchmarks/bench_featurevis.py); ``holdout`` 20 others that nothing is tuned on; ``fresh`` 20 more,
written down before any picture of them was made. Methods:
``pixels``, ``fft``, ``alpha``, ``maco`` with today's defaults (``--steps``, ``--size``) or
FeatureVisConfig fields changed (``fft:steps=256,transforms=standard``; ``fft:seed=1`` for another draw of
the same pictures, seed 0 by default), the Fourier picture's own
settings changed (``fft:decay=1.25,gain=0.3,lr=0.03``: param.fourier's spectrum decay and gain, and
its Adam step), and made with another
network than ``--model`` (``fft:model=efficientnet-lite0+efficientnet-lite1``: an ensemble, one
objective over both networks, each at its own input size); the other network (``--judge``, Lite2)
judging each picture too (transferability, as bench_featurevis.py reports it; not where the judge
is one of the networks that made them: it is no judge of them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import time
from pathlib import Path

LISTS = {
    "benchmark": ("banana,goldfinch,volcano,lemon,tabby,pizza,castle,jellyfish,strawberry,daisy,monarch,flamingo,"
                  "zebra,pineapple,broccoli,school bus,lighthouse,ladybug,peacock,orange").split(","),
    # never tuned on: everyday things a person names at a glance, animals, food, objects, places
    "holdout": ("goldfish,hen,ostrich,king penguin,koala,golden retriever,tiger,teddy,snail,starfish,bell pepper,"
                "mushroom,hotdog,cheeseburger,umbrella,acoustic guitar,teapot,sunglasses,wall clock,alp").split(","),
    # a second held-out list, written down before any picture of it was made (four of the holdout
    # list's classes were looked at while the third round was tuned by eye: docs/featurevis.md)
    "fresh": ("lion,African elephant,giant panda,bald eagle,great white shark,tree frog,hummingbird,ice cream,"
              "pretzel,pomegranate,cucumber,violin,mountain bike,sports car,airliner,balloon,pirate,tractor,"
              "candle,seashore").split(","),
}

# what else a person may rightly call each class (lower case; a name is right if it holds one of
# them as a whole word, or its plural: "fish" is not in "starfish", "bus" not in "bush")
SYNONYMS = {
    "banana": ["banana"], "goldfinch": ["finch", "bird", "songbird"], "volcano": ["volcano", "eruption", "lava"],
    "lemon": ["lemon", "citrus"], "tabby": ["cat", "tabby", "kitten"], "pizza": ["pizza"],
    "castle": ["castle", "fortress", "palace"], "jellyfish": ["jellyfish", "medusa"],
    "strawberry": ["strawberry", "strawberries", "berry", "berries"], "daisy": ["daisy", "daisies", "flower"],
    "monarch": ["butterfly", "butterflies", "monarch"], "flamingo": ["flamingo"], "zebra": ["zebra"],
    "pineapple": ["pineapple"], "broccoli": ["broccoli"], "school bus": ["bus"],
    "lighthouse": ["lighthouse"], "ladybug": ["ladybug", "ladybird", "beetle"], "peacock": ["peacock", "peafowl"],
    "orange": ["orange", "citrus", "tangerine", "mandarin"],
    "goldfish": ["goldfish", "fish", "koi"], "hen": ["hen", "chicken", "rooster"], "ostrich": ["ostrich", "emu"],
    "king penguin": ["penguin"], "koala": ["koala"], "golden retriever": ["dog", "retriever", "puppy", "labrador"],
    "tiger": ["tiger"], "teddy": ["teddy", "bear", "plush", "stuffed"], "snail": ["snail"],
    "starfish": ["starfish", "sea star"], "bell pepper": ["pepper", "capsicum", "paprika"],
    "mushroom": ["mushroom", "fungus", "fungi", "toadstool"], "hotdog": ["hot dog", "hotdog", "sausage"],
    "cheeseburger": ["burger", "hamburger"], "umbrella": ["umbrella", "parasol"],
    "acoustic guitar": ["guitar"], "teapot": ["teapot", "kettle", "tea pot"], "sunglasses": ["sunglasses", "glasses"],
    "wall clock": ["clock"], "alp": ["mountain", "alp", "peak", "snowy"],
    "lion": ["lion", "lioness"], "African elephant": ["elephant"], "giant panda": ["panda"],
    "bald eagle": ["eagle", "bird of prey", "raptor", "hawk"], "great white shark": ["shark"],
    "tree frog": ["frog", "toad"], "hummingbird": ["hummingbird", "bird"], "ice cream": ["ice cream", "gelato", "sundae"],
    "pretzel": ["pretzel"], "pomegranate": ["pomegranate"], "cucumber": ["cucumber", "zucchini", "gherkin", "pickle"],
    "violin": ["violin", "fiddle", "cello", "viola"], "mountain bike": ["bike", "bicycle", "cycle"],
    "sports car": ["car", "automobile", "racing car", "race car"], "airliner": ["airplane", "aeroplane", "plane", "jet",
                                                                          "airliner", "aircraft"],
    "balloon": ["balloon"], "pirate": ["pirate", "ship", "galleon", "sailing", "sailboat", "boat"],
    "tractor": ["tractor"], "candle": ["candle", "candles", "flame"], "seashore": ["beach", "shore", "coast", "sea",
                                                                                  "seaside", "ocean"],
}

VIEWER_BRIEF = (
    "The picture is a grid of numbered tiles. Each tile was made to show one everyday category "
    "(an animal, a food, an object, a place...). For every tile, say what you see: a short name of the "
    "category, and how sure you are: high, medium, low, or none (nothing recognisable; then leave the "
    "name empty). Look at each tile on its own. Answer only with JSON: "
    '{"1": {"name": "...", "confidence": "high|medium|low|none"}, "2": ...}, one entry a tile.'
)
CONFIDENCES = ("high", "medium", "low", "none")
TILE = 160  # px a tile in the grid: large enough to read, a 20-tile grid fits a screen


def _number(text: str) -> int | float | str:
    """A field's written value: a whole number, a decimal, or the text itself."""
    if text.isdigit():
        return int(text)
    return float(text) if re.fullmatch(r"[0-9]*\.[0-9]+", text) else text


def _maker(method: str, model):
    """The network a method's pictures are made with: ``--model``'s, or the method's ``model=NAME``
    (``fft:model=efficientnet-lite0+efficientnet-lite1``: one objective over two networks)."""
    from inceptionism.models import load_model

    named = re.search(r"(?:^|[:,])model=([^,]+)", method)
    return load_model(named.group(1)) if named else model


def _pictures(model, method: str, classes: list[str], steps: int, size: int):
    """``method``: a parameterization, optionally with FeatureVisConfig fields changed, e.g.
    ``fft`` or ``fft:transforms=standard,steps=256``."""
    from inceptionism.featurevis import FeatureVisConfig, visualize_features
    from inceptionism.steering import unit_terms

    param, _, changes = method.partition(":")
    given: dict[str, str] = {}
    last = None
    for piece in changes.split(",") if changes else []:  # a value may hold commas: transforms=pad:16,crops:2x0.4
        if "=" in piece:
            last, value = piece.split("=", 1)
            given[last] = value
        elif last is not None:
            given[last] += "," + piece
    given.pop("model", None)  # the network that makes them: _maker
    # the Fourier picture's own settings (param.fourier's decay and gain, and its Adam step)
    drawn = {k: float(given.pop(k)) for k in ("decay", "gain", "lr") if k in given}
    fields = {"size": size, "steps": steps, **{k: _number(v) for k, v in given.items()}}
    terms = unit_terms(model, "class", ",".join(classes))
    cfg = FeatureVisConfig(param=param, **{"seed": 0, **fields})  # another draw: fft:seed=1
    started = time.perf_counter()
    with _fourier_settings(param, drawn):
        shown = visualize_features(model, terms, cfg, batch=10)
    return [v.image.convert("RGB") for v in shown], (time.perf_counter() - started) / len(shown), terms


@contextlib.contextmanager
def _fourier_settings(param: str, drawn: dict[str, float]):
    """While it lasts, ``param`` (``fft`` or ``alpha``) draws with ``decay``/``gain`` and climbs
    with Adam at ``lr`` where ``drawn`` sets them."""
    from inceptionism.featurevis import param as parameterizations

    table = parameterizations.PARAMS
    before = table[param]
    if drawn and param not in ("fft", "alpha"):
        raise SystemExit(f"decay, gain and lr are the Fourier pictures' settings, not {param!r}'s")

    def made(*args, **kwargs):
        picture = parameterizations.fourier(*args, channels=4 if param == "alpha" else 3, **kwargs,
                                            **{k: v for k, v in drawn.items() if k != "lr"})
        picture.lr = drawn.get("lr", picture.lr)
        return picture

    table[param] = made if drawn else before
    try:
        yield
    finally:
        table[param] = before


def _grid(images: list, order: list[int]):
    """The pictures in ``order``, 5 a row, each numbered from 1 in its corner, nothing else."""
    from PIL import Image, ImageDraw

    rows = -(-len(order) // 5)
    grid = Image.new("RGB", (5 * TILE, rows * TILE), "white")
    draw = ImageDraw.Draw(grid)
    for place, index in enumerate(order):
        x, y = (place % 5) * TILE, (place // 5) * TILE
        grid.paste(images[index].resize((TILE - 4, TILE - 4)), (x + 2, y + 2))
        draw.rectangle((x + 2, y + 2, x + 24, y + 18), fill="white")
        draw.text((x + 5, y + 4), str(place + 1), fill="black")
    return grid


def make(args: argparse.Namespace) -> None:
    import torch

    from inceptionism.errors import ConfigError
    from inceptionism.featurevis import transferability
    from inceptionism.images import picture_from_pil, to_tensor
    from inceptionism.labels import resolve_class
    from inceptionism.models import load_model

    torch.set_num_threads(os.cpu_count() or 1)
    model, judge = load_model(args.model), load_model(args.judge)
    (args.out / "key").mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}; "
          f"{args.model} ({args.steps} steps, {args.size} px), judged by {args.judge}")
    for name in args.list.split(","):
        classes = LISTS[name]
        for method in args.methods.split(";"):
            maker = _maker(method, model)
            images, took, _ = _pictures(maker, method, classes, args.steps, args.size)
            x = torch.cat([to_tensor(picture_from_pil(im), judge.device) for im in images])
            try:
                verdict = transferability(x, [resolve_class(c) for c in classes], judge, source=maker)
                judged = (f"{args.judge} top-1 {float(verdict.top1.float().mean()):.2f}, "
                          f"top-5 {float(verdict.top5.float().mean()):.2f}")
            except ConfigError as refused:  # the judge made them (a member of the ensemble): no judge
                judged = f"not judged ({refused})"
            order = list(range(len(classes)))
            random.Random(f"{name}-{method}-{args.seed}").shuffle(order)  # each grid its own order
            stem = f"{name}-{re.sub(r'[^A-Za-z0-9+.-]+', '-', method)}"
            _grid(images, order).save(args.out / f"grid-{stem}.png")
            key = {str(place + 1): classes[index] for place, index in enumerate(order)}
            (args.out / "key" / f"key-{stem}.json").write_text(json.dumps(key, indent=1) + "\n")
            print(f"{stem}: {took:.2f} s a picture; {judged}; grid-{stem}.png", flush=True)


def right(name: str, category: str) -> bool:
    """Whether a viewer's ``name`` names ``category``: its name or a synonym as whole words (a
    plural s or es allowed), in any case."""
    said = re.sub(r"[^a-z]+", " ", name.lower())
    return any(re.search(rf"\b{re.escape(word)}(?:e?s)?\b", said) for word in [category, *SYNONYMS.get(category, [])])


def score(args: argparse.Namespace) -> None:
    for answers_file in sorted(args.out.glob("answers-*.json")):
        stem = answers_file.stem.removeprefix("answers-")  # answers-GRID@N.json: viewer N of GRID
        key = json.loads((args.out / "key" / f"key-{stem.split('@')[0]}.json").read_text())
        answers = json.loads(answers_file.read_text())
        sure = everything = 0
        named = []
        for tile, category in key.items():
            answer = answers.get(tile) or {}
            name, confidence = str(answer.get("name", "")), str(answer.get("confidence", "none")).lower()
            ok = right(name, category)
            everything += ok
            sure += ok and confidence in ("high", "medium")
            named.append(f"{tile}:{category}={'+' if ok else '-'}{name!r}({confidence})")
        print(f"{stem}: {sure}/{len(key)} named at medium or high confidence, {everything}/{len(key)} named in all")
        if args.verbose:
            print("  " + "; ".join(named))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    making = sub.add_parser("make", help="draw the grids and their keys")
    making.add_argument("--list", default="benchmark,holdout", help=f"comma list of {', '.join(LISTS)}")
    making.add_argument("--methods", default="fft", help="semicolon list of PARAM[:FIELD=VALUE,...], e.g. "
                        "'fft;fft:transforms=standard,steps=256;fft:model=efficientnet-lite0+efficientnet-lite1'")
    making.add_argument("--model", default="efficientnet-lite0")
    making.add_argument("--judge", default="efficientnet-lite2")
    making.add_argument("--steps", type=int, default=128)
    making.add_argument("--size", type=int, default=224)
    making.add_argument("--seed", default="0", help="the grids' shuffle")
    making.add_argument("--out", type=Path, required=True)
    scoring = sub.add_parser("score", help="score answers-*.json against the keys")
    scoring.add_argument("--out", type=Path, required=True)
    scoring.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    (make if args.step == "make" else score)(args)


if __name__ == "__main__":
    main()
