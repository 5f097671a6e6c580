"""What ``inceptionism concepts`` writes beside its dictionary: each concept's picture(s) and
exemplar sheet (the crops, and the same crops with a heatmap of the concept's codes),
``concepts.json`` and a static ``index.html`` sorted by importance, readable offline."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .concepts import Concept, Concepts, Exemplar
from .images import save_image
from .outputs import write_atomic

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["exemplar_sheet", "write_report", "output_names"]

CROP = 112  # px of an exemplar crop on its sheet


def output_names(k: int, pictures: int) -> list[str]:
    """Every file the report writes for ``k`` concepts (beside dictionary.safetensors)."""
    names = ["concepts.json", "index.html"]
    for c in range(k):
        names += [_picture_name(c, p, pictures) for p in range(pictures)] + [f"concept-{c:03d}-examples.jpg"]
    return names


def _picture_name(index: int, picture: int, pictures: int) -> str:
    return f"concept-{index:03d}.png" if pictures == 1 else f"concept-{index:03d}-{picture}.png"


def exemplar_sheet(exemplars: list[Exemplar], side: int = CROP) -> "Image.Image":
    """The exemplars' crops in a row, and beneath each the same crop with the concept's codes
    as a heatmap (bright: strong; one scale for the whole sheet)."""
    import numpy as np
    from matplotlib import colormaps
    from PIL import Image, ImageOps

    from .images import load_image, to_pil

    sheet = Image.new("RGB", (max(1, len(exemplars)) * side, 2 * side), (255, 255, 255))
    peak = max((float(e.heat.max()) for e in exemplars), default=1.0) or 1.0
    for n, e in enumerate(exemplars):
        picture = load_image(e.path, role="photo", max_side=4 * side)
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


def _record(concept: Concept, output: Path, term: str, pictures: int, names: tuple[str, ...] | None) -> dict[str, Any]:
    def named(c: int) -> str | None:
        return names[c] if names is not None and 0 <= c < len(names) else None

    sanity = concept.sanity
    return {
        "index": concept.index,
        "term": term,
        "pictures": [_picture_name(concept.index, p, pictures) for p in range(pictures)],
        "score": [v.score for v in concept.pictures],
        "examples": f"concept-{concept.index:03d}-examples.jpg",
        "exemplars": [{"photo": str(e.path), "box": list(e.box), "code": e.score} for e in concept.exemplars],
        "importance": concept.importance,
        "classes": [{"class": c, "name": named(c), "importance": v} for c, v in concept.classes[:10]],
        "causal": concept.causal,
        "sanity": None if sanity is None else {"rank": sanity.rank, "of": sanity.units, "z": sanity.z,
                                               "explained": sanity.explained},
    }


def write_report(output: Path, found: Concepts, dictionary_path: Path, *, labels: tuple[str, ...] | None,
                 metadata: dict[str, Any]) -> tuple[Path, Path]:
    """Write every concept's pictures and exemplar sheet, ``concepts.json`` and ``index.html``
    into ``output`` (atomically, file by file); returns the JSON's and the page's paths."""
    pictures = max((len(c.pictures) for c in found.concepts), default=1)
    ordered = sorted(found.concepts, key=lambda c: -c.importance)
    records = []
    for concept in ordered:
        term = f"concept:{dictionary_path}:{concept.index}"
        for p, shown in enumerate(concept.pictures):
            save_image(shown.image, output / _picture_name(concept.index, p, pictures),
                       {**shown.metadata, "concept": {"term": term, **metadata}})
        sheet = exemplar_sheet(concept.exemplars)
        write_atomic(output / f"concept-{concept.index:03d}-examples.jpg",
                     lambda fh, sheet=sheet: sheet.save(fh, format="JPEG", quality=88))
        records.append(_record(concept, output, term, pictures, labels))
    report = {"dictionary": str(dictionary_path), "recipe": found.dictionary.recipe, "skipped": found.skipped,
              "concepts": records}
    json_path = write_atomic(output / "concepts.json", lambda fh: fh.write((json.dumps(report, indent=1) + "\n").encode()))
    index = write_atomic(output / "index.html", lambda fh: fh.write(_page(report).encode()))
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
    return (f'<p class="{"good" if above else "weak"}">taken out: top-class logit −{causal["logit_drop"]:.2f}, '
            f'probability −{causal["probability_drop"]:.3f}<br>random direction: logit −{causal["random_logit_drop"]:.2f}, '
            f'probability −{causal["random_probability_drop"]:.3f}</p>')


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
        cards.append(
            f'<section class="card" id="c{r["index"]}"><h2>concept {r["index"]} '
            f'<small>importance {r["importance"]:+.3f}</small></h2>{pictures}'
            f'<img class="ex" src="{html.escape(r["examples"])}" alt="the photos where concept {r["index"]} is '
            f'strongest, and where in them" loading="lazy"><div class="facts">{_classes(r)}{_causal(r["causal"])}'
            f'{honest}<code>--layers {html.escape(r["term"])}</code></div></section>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; background: #111; color: #ddd; margin: 1rem; }}
.card {{ display: grid; grid-template-columns: minmax(120px, 200px) minmax(200px, 1fr) minmax(220px, 320px);
        gap: 12px; align-items: start; border-top: 1px solid #333; padding: 10px 0; }}
.card h2 {{ grid-column: 1 / -1; margin: 0; font-size: 15px; }} .card h2 small {{ color: #999; font-weight: normal; }}
.pic, .ex {{ width: 100%; border-radius: 4px; display: block; }} .pic + .pic {{ margin-top: 4px; }}
ol {{ margin: 0; padding-left: 1.2em; }} li {{ position: relative; margin: 2px 0; }}
.bar {{ position: absolute; left: 0; top: 0; bottom: 0; z-index: -1; opacity: .35; }}
.bar.up {{ background: #3a6; }} .bar.down {{ background: #a44; }}
.good {{ color: #8d8; }} .weak {{ color: #d98; }} code {{ font-size: 12px; word-break: break-all; }}
</style></head><body>
<h1>{title}</h1>
<p>{recipe['photos']} photos, {recipe['samples']} activation vectors sampled; variance explained
{measures.get('variance_explained', float('nan')):.2f}, {measures.get('active_per_vector', float('nan')):.1f} concepts
active per position, {measures.get('dead', 0)} dead. Sorted by importance: the mean gradient × activation of the concept
for each exemplar's first class. Each concept: its picture (grown from noise), its strongest photos (beneath: where it
sits), the classes it pushes (summed over its photos), its causal drop against random directions, and its sanity rank.</p>
{chr(10).join(cards)}
</body></html>
"""
