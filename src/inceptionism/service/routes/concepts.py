"""Concepts: the layers' concepts in the studio's concepts folder (``serve --concepts``), their
pictures, and the term that dreams towards each."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from ...doors.limits import ApiError
from ..deps import Settings
from ..settings import concept_sets_of

router = APIRouter(prefix="/api/concepts", tags=["concepts"])


@router.get("")
def concepts(settings: Settings, model: Annotated[str | None, Query(description="Only this network's")] = None,
             layer: Annotated[str | None, Query(description="Only this layer's")] = None) -> dict[str, Any]:
    """Every concept dictionary of the studio's folder (of one network and layer when asked),
    each concept with its picture, importance, first classes and the term that dreams
    towards it (``layers``). Empty when the studio has no concepts folder."""
    found = []
    for s in concept_sets_of(settings):
        if (model is not None and s.recipe.get("network") != model) or (layer is not None and s.recipe.get("layer") != layer):
            continue
        found.append({
            "name": s.name, "network": s.recipe.get("network"), "layer": s.recipe.get("layer"),
            "method": s.recipe.get("method"), "k": s.recipe.get("k"), "photos": s.recipe.get("photos"),
            "concepts": [{
                "index": c.get("index"), "term": f"concept:{s.dictionary}:{c.get('index')}",
                "picture": f"/api/concepts/{quote(s.name, safe='')}/{quote(str((c.get('pictures') or [''])[0]))}",
                "examples": f"/api/concepts/{quote(s.name, safe='')}/{quote(str(c.get('examples', '')))}",
                "importance": c.get("importance"),
                "classes": [k.get("name") or k.get("class") for k in (c.get("classes") or [])[:3]],
            } for c in s.concepts if isinstance(c, dict)],
        })
    return {"sets": found}


@router.get("/{name}/{file}", response_class=FileResponse, responses={404: {}})
def concept_file(settings: Settings, name: str, file: str) -> FileResponse:
    """A concept's picture or exemplar sheet, by its set's name and the file's."""
    from ...concept_report import FILE_NAME

    found = next((s for s in concept_sets_of(settings) if s.name == name), None)
    if found is None or not FILE_NAME.fullmatch(file) or not (found.folder / file).is_file():
        raise ApiError(404, f"no concept file {file!r} in {name!r}; GET /api/concepts lists them", "file")
    return FileResponse(found.folder / file, headers={"Cache-Control": "no-cache"})
