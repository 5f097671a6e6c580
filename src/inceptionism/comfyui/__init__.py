"""ComfyUI's nodes: the front door where artists wire graphs. The node pack in
``integrations/comfyui/`` holds no code of its own: its ``__init__`` imports the two
mappings below from here.

- :mod:`.widgets`: a node's widgets and sockets, generated from ``doors.form("comfyui")``
  (every parameter declared for all doors appears, with its range, default and help), and the
  widgets' values turned back into parameters;
- :mod:`.host`: ComfyUI's own progress bar and Cancel button, reached through the library's
  callbacks (no-ops outside ComfyUI);
- :mod:`.nodes`: the nodes: a network loader (the network stays loaded across queue runs),
  Dream, Visualize, Zoom (looping too), Video and Layers.
"""

from __future__ import annotations

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
