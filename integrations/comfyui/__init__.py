"""inceptionism's ComfyUI nodes: DeepDream in ComfyUI graphs.

This folder holds no dreaming code: the nodes live in the installed ``inceptionism`` package
(``inceptionism.comfyui``), whose widgets are generated from its parameter declarations, so a
parameter added there appears here without touching this pack. Install: README.md.
"""

try:
    from inceptionism.comfyui import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
except ImportError as exc:  # inceptionism is not installed in ComfyUI's Python
    raise ImportError(f"the inceptionism nodes need the inceptionism package in ComfyUI's Python ({exc}); "
                      "install it there: python -m pip install inceptionism") from exc

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
