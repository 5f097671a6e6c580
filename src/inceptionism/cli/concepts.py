"""The concepts command: a dictionary of concepts learned over a layer, and a page of them."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ..command_config import ConceptsConfig, InspectConfig
from .common import DebugOpt, QuietOpt, app, errors, load_network, out, progress_bar
from .flags import with_config

_STAGES = {"photos": "sampling activations", "learn": "learning", "exemplars": "finding exemplars",
           "evidence": "measuring importance and causal drops"}


@app.command()
@with_config("net", InspectConfig)
@with_config("cfg", ConceptsConfig)
def concepts(
    layer: str = typer.Argument(..., help="Layer whose activations to learn concepts over, e.g. blocks.5.0.bn1."),
    photos: Path = typer.Argument(..., help="Folder of photos (and its subfolders); unreadable files are listed and "
                                  "skipped."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for dictionary.safetensors, the pictures, "
                                "concepts.json and index.html."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    net: InspectConfig,
    cfg: ConceptsConfig,
) -> None:
    """Learn K concepts of a layer from photos (NMF or a TopK sparse autoencoder), and for each
    its picture, exemplar photos with heatmaps, class importances, causal drop and sanity rank."""
    with errors(debug):
        from ..concept_report import check_concepts, check_network
        from ..concept_report import concepts as learn

        started = time.perf_counter()
        check_concepts(photos, output, cfg)  # a bad folder is one line before the network loads
        loaded = load_network(net)
        check_network(loaded, layer, cfg)  # before the progress starts
        with progress_bar(quiet) as progress:
            task = progress.add_task(f"{layer}: {_STAGES['photos']}", total=None, step="-", score="-")

            def on_progress(stage: str, done: int, total: int) -> None:
                progress.update(task, description=f"{layer}: {_STAGES[stage]}", completed=done, total=total,
                                step=f"{done}/{total}")

            def on_step(step: int, values: object) -> None:
                progress.update(task, description=f"{layer}: drawing {cfg.k} concepts", step=f"{step}/{cfg.steps}")

            found = learn(layer, photos, output, model=loaded, cfg=cfg, on_progress=on_progress, on_step=on_step)
        for line in found.skipped:
            out.print(f"skipped {line}")
        recipe = found.dictionary.recipe
        measures = recipe["measures"]
        above = sum(1 for c in found.concepts if c.causal and c.causal["logit_drop"] > c.causal["random_logit_drop"])
        explained = sum(1 for c in found.concepts if c.sanity is not None and c.sanity.explained)
        out.print(f"wrote {output / 'dictionary.safetensors'}, {output / 'concepts.json'} and {output / 'index.html'}: "
                  f"{cfg.k} concepts ({cfg.method}, seed {recipe['seed']}) from {recipe['photos']} photos; variance "
                  f"explained {measures['variance_explained']:.2f}, {measures['dead']} dead; causal drop above random "
                  f"for {above}, picture explained by its concept for {explained}; "
                  f"{time.perf_counter() - started:.0f} s")
