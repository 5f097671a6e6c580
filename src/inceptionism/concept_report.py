"""What ``inceptionism concepts`` writes beside its dictionary: each concept's picture(s) and
exemplar sheet (the crops, and the same crops with a heatmap of the concept's codes),
``concepts.json`` and a static ``index.html`` sorted by importance, readable offline."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .command_config import ConceptsConfig
from .concepts import Concept, Concepts, Exemplar, Progress, learn_concepts
from .config import DEFAULT_DEVICE, DEFAULT_MODEL
from .images import save_image
from .models.loaded import LoadedModel
from .outputs import write_atomic
from .pages import static_page

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["concepts", "check_concepts", "check_network", "exemplar_sheet", "write_report", "output_names", "ConceptSet", "concept_sets", "FILE_NAME"]

FILE_NAME = re.compile(r"concept-[0-9]{3,}(?:-[0-9]+)?(?:\.png|-examples\.jpg)")  # per concept (fullmatch)

CROP = 112  # px of an exemplar crop on its sheet


def concepts(layer: str, photos: str | Path, output: str | Path, *, model: str | LoadedModel = DEFAULT_MODEL,
             device: str = DEFAULT_DEVICE, cfg: ConceptsConfig | None = None, on_progress: Progress | None = None,
             on_step: Any = None, **params: Any) -> Concepts:
    """Learn concepts of ``layer`` from a folder of ``photos`` and write into ``output``: the
    dictionary (``dictionary.safetensors``), each concept's picture and exemplar sheet,
    ``concepts.json`` and ``index.html`` (what ``inceptionism concepts`` does).

    Args:
        layer: module path, e.g. ``"blocks.6.0.bn1"`` (a transformer's token layer too).
        photos: a folder of photos, read with its subfolders; files that are no pictures are
            listed in the result's ``skipped``.
        output: the folder to write (made when missing; not inside ``photos``).
        model: the network: a name, or a model already loaded.
        on_progress: ``(stage, done, total)`` as the photos are read and measured.
        on_step: ``(step, values)`` as the pictures grow.
        cfg: the parameters whole (a :class:`~inceptionism.command_config.ConceptsConfig`), or
        **params: any of its fields: ``k``, ``method`` (nmf or sae), ``seed``, ``size``,
            ``steps``, ``pictures``... (over ``cfg`` when both are given).

    Returns:
        The dictionary and every concept's evidence; its recipe holds the seed used.

    Raises:
        ConfigError, LayerError, OutputError: a bad folder, layer, parameter or output, before any work.

    Examples:
        >>> found = concepts("blocks.6.0.bn1", "photos/", "concepts/", k=16, seed=0)  # doctest: +SKIP
        >>> found.concepts[0].classes[:1]
        [(970, 19.9)]
    """
    from .config import draw_seed
    from .labels import class_names
    from .models import as_loaded

    cfg = dataclasses.replace(cfg or ConceptsConfig(), **params)
    output = Path(output)
    check_concepts(photos, output, cfg)
    loaded = as_loaded(model, device)
    check_network(loaded, layer, cfg)
    seed = cfg.seed if cfg.seed is not None else draw_seed()
    found = learn_concepts(loaded, layer, photos, output, cfg, seed, on_progress=on_progress, on_step=on_step)
    labels = class_names(loaded.spec.labels) if loaded.spec.labels is not None else None
    recipe = {**dataclasses.asdict(cfg), "seed": seed, "layer": layer, "model": loaded.spec.name}
    write_report(output, found, output / "dictionary.safetensors", labels=labels, metadata=recipe)
    return found


def output_names(k: int, pictures: int) -> list[str]:
    """Every file the report writes for ``k`` concepts (beside dictionary.safetensors)."""
    names = ["concepts.json", "index.html"]
    for c in range(k):
        names += [_picture_name(c, p, pictures) for p in range(pictures)] + [_examples_name(c)]
    return names


def check_concepts(photos: str | Path, output: Path, cfg: ConceptsConfig) -> None:
    """The checks that need no network: a folder of photos, an output folder outside it whose
    path a term can name, and none of the names the command writes taken by something it
    cannot replace."""
    from .errors import ConfigError
    from .featurevis import photo_files
    from .outputs import check_output_folder, check_outputs, check_outside

    photo_files(photos)
    written = str(Path(output).resolve() / "dictionary.safetensors")
    if any(c in written for c in ",*@") or written != written.strip() or any(c.isspace() for c in written):
        raise ConfigError(f"output {str(output)!r}: the concepts' terms name its dictionary by its path, and a path "
                          "with a comma, *, @ or a space cannot be written in a term; choose another folder",
                          field="output")
    check_output_folder(output)
    check_outside(output, photos)  # its pictures would be read as photos next time
    if output.is_dir():  # in a new folder every name is free
        check_outputs([output / name for name in ["dictionary.safetensors", *output_names(cfg.k, cfg.pictures)]])


def check_network(model: LoadedModel, layer: str, cfg: ConceptsConfig) -> None:
    """The checks that need the network, before any work: the layer (an unknown one names the
    nearest) and the pictures' side against the network's smallest input."""
    from .featurevis import check_side
    from .taps import layer_info

    layer_info(model, layer)
    check_side(model, cfg.size)


def _examples_name(index: int) -> str:
    return f"concept-{index:03d}-examples.jpg"


def _picture_name(index: int, picture: int, pictures: int) -> str:
    return f"concept-{index:03d}.png" if pictures == 1 else f"concept-{index:03d}-{picture}.png"


def exemplar_sheet(exemplars: list[Exemplar], side: int = CROP) -> "Image.Image":
    """The exemplars' crops in a row, and beneath each the same crop with the concept's codes
    as a heatmap (bright: strong; one scale for the whole sheet)."""
    import numpy as np
    from matplotlib import colormaps
    from PIL import Image, ImageOps

    from .errors import ImageError
    from .images import load_image, to_pil

    sheet = Image.new("RGB", (max(1, len(exemplars)) * side, 2 * side), (255, 255, 255))
    peak = max((float(e.heat.max()) for e in exemplars), default=1.0) or 1.0
    for n, e in enumerate(exemplars):
        try:
            picture = load_image(e.path, role="photo", max_side=4 * side)
        except ImageError:  # changed or gone since it was read: its place stays blank
            continue
        photo = to_pil(torch.from_numpy(picture.rgb.copy()).permute(2, 0, 1))
        heat = torch.nn.functional.interpolate(e.heat[None, None].float() / peak, size=(photo.height, photo.width),
                                               mode="bilinear", align_corners=False)[0, 0].clamp(0, 1).numpy()
        colour = Image.fromarray((colormaps["inferno"](heat)[..., :3] * 255).astype(np.uint8))
        blended = Image.blend(photo, colour, 0.55)
        left, top, right, bottom = e.box
        box = (round(left * photo.width), round(top * photo.height), round(right * photo.width),
               round(bottom * photo.height))
        sheet.paste(ImageOps.fit(photo.crop(box), (side, side)), (n * side, 0))
        sheet.paste(ImageOps.fit(blended.crop(box), (side, side)), (n * side, side))
    return sheet


def _record(concept: Concept, term: str, pictures: int, names: tuple[str, ...] | None) -> dict[str, Any]:
    def named(c: int) -> str | None:
        return names[c] if names is not None and 0 <= c < len(names) else None

    sanity = concept.sanity
    return {
        "index": concept.index,
        "term": term,
        "pictures": [_picture_name(concept.index, p, pictures) for p in range(pictures)],
        "score": [v.score for v in concept.pictures],
        "examples": _examples_name(concept.index),
        "exemplars": [{"photo": str(e.path), "box": list(e.box), "code": e.score} for e in concept.exemplars],
        "importance": concept.importance,
        "classes": [{"class": c, "name": named(c), "importance": v} for c, v in concept.classes[:10]],
        "causal": concept.causal,
        "sanity": None if sanity is None else {"rank": sanity.rank, "of": sanity.units, "z": sanity.z,
                                               "explained": sanity.explained},
    }


def write_report(output: Path, found: Concepts, dictionary_path: Path, *, labels: tuple[str, ...] | None,
                 metadata: dict[str, Any]) -> tuple[Path, Path]:
    """Write the dictionary to ``dictionary_path``, every concept's pictures and exemplar sheet,
    ``concepts.json`` and ``index.html`` into ``output`` (atomically, file by file; the
    terms name the dictionary by its absolute path); returns the JSON's and the page's paths."""
    from .dictionaries import save_dictionary

    dictionary_path = Path(dictionary_path).resolve()
    pictures = max((len(c.pictures) for c in found.concepts), default=1)
    ordered = sorted(found.concepts, key=lambda c: -c.importance)
    records = []
    for concept in ordered:
        term = f"concept:{dictionary_path}:{concept.index}"
        for p, shown in enumerate(concept.pictures):
            save_image(shown.image, output / _picture_name(concept.index, p, pictures),
                       {**shown.metadata, "concept": {"term": term, **metadata}})
        sheet = exemplar_sheet(concept.exemplars)
        write_atomic(output / _examples_name(concept.index),
                     lambda fh, sheet=sheet: sheet.save(fh, format="JPEG", quality=88))
        records.append(_record(concept, term, pictures, labels))
    report = {"dictionary": str(dictionary_path), "recipe": found.dictionary.recipe, "skipped": found.skipped,
              "concepts": records}
    # the page, then the dictionary, then concepts.json, which pairs them (what the studio and the
    # gallery read): a run that fails before the end leaves no new dictionary beside an old report
    index = write_atomic(output / "index.html", lambda fh: fh.write(_page(report).encode()))
    save_dictionary(dictionary_path, found.dictionary)
    json_path = write_atomic(output / "concepts.json", lambda fh: fh.write((json.dumps(report, indent=1) + "\n").encode()))
    return json_path, index


def _classes(record: dict[str, Any]) -> str:
    rows = []
    top = max((abs(c["importance"]) for c in record["classes"][:5]), default=1.0) or 1.0
    for c in record["classes"][:5]:
        name = html.escape(c["name"] or str(c["class"]))
        width = round(100 * abs(c["importance"]) / top)
        sign = "up" if c["importance"] >= 0 else "down"
        rows.append(f'<li><span class="bar {sign}" style="width:{width}%"></span>{name} '
                    f'<b>{c["importance"]:+.2f}</b></li>')
    return "<ol>" + "".join(rows) + "</ol>"


def _causal(causal: dict[str, float]) -> str:
    if not causal:
        return "<p>no exemplars</p>"
    above = causal["logit_drop"] > causal["random_logit_drop"]

    def change(drop: float, places: int) -> str:  # a drop as the change it is, with a true minus sign
        return f"{-drop:+.{places}f}".replace("-", "\u2212")

    return (f'<p class="{"good" if above else "weak"}">taken out: top-class logit {change(causal["logit_drop"], 2)}, '
            f'probability {change(causal["probability_drop"], 3)}<br>random direction: logit '
            f'{change(causal["random_logit_drop"], 2)}, probability {change(causal["random_probability_drop"], 3)}</p>')


def _page(report: dict[str, Any]) -> str:
    recipe = report["recipe"]
    measures = recipe.get("measures", {})
    title = html.escape(f"{recipe['network']} · {recipe['layer']} · {recipe['k']} concepts ({recipe['method']})")
    cards = []
    for r in report["concepts"]:
        sanity = r["sanity"]
        honest = "" if sanity is None else (f'<p class="{"good" if sanity["explained"] else "weak"}">sanity: rank '
                                            f'{sanity["rank"]} of {sanity["of"]} on its own picture</p>')
        pictures = "".join(f'<img class="pic" src="{html.escape(p)}" alt="concept {r["index"]}" loading="lazy">'
                           for p in r["pictures"])
        pictures = f'<div class="pics">{pictures}</div>'  # one column of the card, however many
        cards.append(
            f'<section class="card" id="c{r["index"]}"><h2>concept {r["index"]} '
            f'<small>importance {r["importance"]:+.3f}</small></h2>{pictures}'
            f'<img class="ex" src="{html.escape(r["examples"])}" alt="the photos where concept {r["index"]} is '
            f'strongest, and where in them" loading="lazy"><div class="facts">{_classes(r)}{_causal(r["causal"])}'
            f'{honest}<code>--layers {html.escape(r["term"])}</code></div></section>')
    style = """
.card { display: grid; grid-template-columns: minmax(120px, 200px) minmax(200px, 1fr) minmax(220px, 320px);
        gap: 12px; align-items: start; border-top: 1px solid #333; padding: 10px 0; }
.card h2 { grid-column: 1 / -1; margin: 0; font-size: 15px; } .card h2 small { color: #999; font-weight: normal; }
.pic, .ex { width: 100%; border-radius: 4px; display: block; } .pic + .pic { margin-top: 4px; }
ol { margin: 0; padding-left: 1.2em; } li { position: relative; margin: 2px 0; }
.bar { position: absolute; left: 0; top: 0; bottom: 0; z-index: -1; opacity: .35; }
.bar.up { background: #3a6; } .bar.down { background: #a44; }
.good { color: #8d8; } .weak { color: #d98; } code { font-size: 12px; word-break: break-all; }
"""
    body = f"""<p>{recipe['photos']} photos, {recipe['samples']} activation vectors sampled; variance explained
{measures.get('variance_explained', float('nan')):.2f}, {measures.get('active_per_vector', float('nan')):.1f} concepts
active per position, {measures.get('dead', 0)} dead. Sorted by importance: the mean gradient × activation of the concept
for each exemplar's first class. Each concept: its picture (grown from noise), its strongest photos (beneath: where it
sits), the classes it pushes (summed over its photos), its causal drop against random directions, and its sanity rank.</p>
{chr(10).join(cards)}"""
    return static_page(title, style, body)


@dataclass(frozen=True)
class ConceptSet:
    """One ``inceptionism concepts`` output found in a folder."""

    name: str  # its folder relative to the one searched, "/" as "--" ("-" for that folder itself)
    folder: Path
    dictionary: Path  # its dictionary.safetensors, resolved
    recipe: dict[str, Any]  # the dictionary's recipe, as concepts.json has it
    concepts: list[dict[str, Any]]  # concepts.json's records, by importance


def concept_sets(folder: str | Path) -> list[ConceptSet]:
    """The concept outputs in ``folder`` and its subfolders (two levels): each a folder with
    ``dictionary.safetensors`` and ``concepts.json``; ones whose JSON cannot be read are left out."""
    root = Path(folder)
    found = []
    for dictionary in sorted([*root.glob("dictionary.safetensors"), *root.glob("*/dictionary.safetensors"),
                              *root.glob("*/*/dictionary.safetensors")]):
        try:
            report = json.loads((dictionary.parent / "concepts.json").read_text())
            recipe, concepts = report["recipe"], report["concepts"]
            if not (isinstance(recipe, dict) and isinstance(concepts, list)):
                continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        k = recipe.get("k")
        concepts = [c for c in concepts if isinstance(c, dict) and isinstance(c.get("index"), int)
                    and not isinstance(c.get("index"), bool) and isinstance(k, int) and 0 <= c["index"] < k]
        name = dictionary.parent.relative_to(root).as_posix().replace("/", "--")
        name = "-" if name == "." else name  # one path segment, never "." (a browser folds "/./" away)
        found.append(ConceptSet(name, dictionary.parent, dictionary.resolve(), recipe, concepts))
    return found
