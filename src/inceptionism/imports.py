"""How the heavy packages are imported, so a command starts fast: timm and torchvision
without torch's compiler (dynamo), and torch without its meta kernels until something needs
them (docs/performance.md, "Speed round 3" and "Speed round 4")."""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import threading
import types
from typing import Any, Callable

__all__ = ["import_timm", "import_torchvision", "defer_torch_meta_kernels"]


_TIMM_IMPORT = threading.Lock()
_DYNAMO = ("torch._dynamo", "torch._dynamo.utils")


def import_timm() -> types.ModuleType:
    """timm, imported without importing ``torch._dynamo`` on the way (about 1.1 s of timm's
    1.5 s here; docs/performance.md).

    Two module-level lines pull dynamo in, and neither needs it until code runs under
    ``torch.compile``: torchvision's ``ops/roi_align.py`` imports
    ``torch._dynamo.utils.is_compile_supported`` (called only inside ``roi_align``), and
    timm's ``naflexvit`` decorates a method with ``torch.compiler.disable``, which calls
    ``torch._dynamo.disable``. While timm imports, ``torch._dynamo`` and its ``utils`` are
    stand-ins that defer to the real modules: ``is_compile_supported`` imports them when
    it is called, ``disable`` when the function it wraps is first called, and any other
    name imports them at once (so a timm or torchvision that needs more still works, only
    without the saving). The stand-ins leave ``sys.modules`` as soon as timm is imported;
    a later ``import torch._dynamo`` gets the real module.
    """
    return _without_dynamo("timm")


def import_torchvision() -> types.ModuleType:
    """torchvision, imported without ``torch._dynamo`` (see :func:`import_timm`: its
    ``roi_align`` line)."""
    return _without_dynamo("torchvision")


def _without_dynamo(package: str) -> types.ModuleType:
    with _TIMM_IMPORT:
        if package in sys.modules or any(name in sys.modules for name in _DYNAMO):
            return importlib.import_module(package)
        import torch

        stand_ins = _dynamo_stand_ins()
        sys.modules.update(stand_ins)
        try:
            module = importlib.import_module(package)
        finally:
            _drop(stand_ins)
            if vars(torch).get("_dynamo") is stand_ins["torch._dynamo"]:
                delattr(torch, "_dynamo")
        return module


def _drop(stand_ins: dict[str, types.ModuleType]) -> None:
    for name, module in stand_ins.items():
        if sys.modules.get(name) is module:
            del sys.modules[name]


class _StandIn(types.ModuleType):
    """A module's stand-in: a name it lacks is the real module's, imported once ``ready()``
    has made way for it. Dunder questions are answered "no" without importing anything
    (inspect asks every module for ``__file__``), except a package's ``__path__``, which
    importing one of its submodules needs."""

    def __init__(self, name: str, ready: Callable[[], None], *, package: bool = False) -> None:
        super().__init__(name, f"stands in for {name} until it is needed (inceptionism.runtime)")
        self._ready, self._package = ready, package

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and not (attr == "__path__" and self._package):
            raise AttributeError(attr)
        self._ready()
        return getattr(importlib.import_module(self.__name__), attr)


def _dynamo_stand_ins() -> dict[str, types.ModuleType]:
    """Stand-ins for ``torch._dynamo`` and ``torch._dynamo.utils`` (see :func:`import_timm`)."""
    stand_ins: dict[str, types.ModuleType] = {}

    def real(name: str) -> types.ModuleType:
        _drop(stand_ins)
        return importlib.import_module(name)

    def is_compile_supported(device_type: str) -> bool:
        return real("torch._dynamo.utils").is_compile_supported(device_type)

    def disable(fn: Callable | None = None, recursive: bool = True, *, reason: str | None = None) -> Callable:
        if fn is None:
            return functools.partial(disable, recursive=recursive, reason=reason)
        disabled: list[Callable] = []

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            if not disabled:
                disabled.append(real("torch._dynamo").disable(fn, recursive, reason=reason))
            return disabled[0](*args, **kwargs)

        return call

    step_aside = functools.partial(_drop, stand_ins)
    dynamo, utils = _StandIn("torch._dynamo", step_aside, package=True), _StandIn("torch._dynamo.utils", step_aside)
    utils.is_compile_supported = is_compile_supported
    dynamo.utils, dynamo.disable = utils, disable
    stand_ins.update({"torch._dynamo": dynamo, "torch._dynamo.utils": utils})
    return stand_ins


# What ``torch._meta_registrations`` brings in that nothing else of ``import torch`` does
# (torch 2.14): the Python references, primitives and decompositions. They import one
# another in a cycle that only resolves when the meta registrations are imported first.
_META = "torch._meta_registrations"
_META_PARTS = (_META, "torch._decomp", "torch._refs", "torch._prims")
# What traces, compiles or exports: it runs on fake tensors, which need the meta kernels.
# (Not torch.onnx itself, which torchvision imports to register its operators: exporting
# goes through torch.export or torch._dynamo.)
_META_USERS = ("torch._dynamo", "torch._inductor", "torch._functorch.aot_autograd", "torch._functorch.partitioners",
               "torch.export._trace", "torch._export.non_strict_utils")
_DEFERS_ON = ("2.14.",)  # the torch versions whose import was checked to work so (tests/test_runtime.py)
_deferral: _DeferredMetaKernels | None = None


def defer_torch_meta_kernels() -> bool:
    """Import torch's Python meta kernels when something first needs them, not with torch;
    True if the next ``import torch`` will defer them.

    ``import torch`` ends by importing ``torch._meta_registrations``, which registers the
    Python shape functions of operators for tensors on the ``meta`` device, and
    with them torch's Python references, primitives and decompositions: about 0.3 s of
    torch's 1.2 s here (docs/performance.md, start-up). A dream computes on real tensors
    and needs none of it. ``torch.compile``, ``torch.export`` and fake tensors do: their
    modules (``torch._dynamo``, ``torch._inductor``, ...), like ``torch._decomp``,
    ``torch._refs``, ``torch._prims`` or ``torch._meta_registrations`` themselves, import
    the real registrations first when they are imported, and so does reading any of those
    four names from ``torch`` (``torch.broadcast_shapes`` reads ``torch._refs``). What is
    not covered is computing on ``meta`` tensors with no such import before it: an
    operator whose shape function is one of these raises NotImplementedError.

    The ``inceptionism`` command calls it first thing, before anything imports torch; it
    does nothing where torch is already imported or ``INCEPTIONISM_DEFER_TORCH_META=0``.
    """
    global _deferral
    if _deferral is not None:
        return _deferral.state == "waiting"
    if "torch" in sys.modules or os.environ.get("INCEPTIONISM_DEFER_TORCH_META", "1") == "0":
        return False
    _deferral = _DeferredMetaKernels()
    sys.meta_path.insert(0, _deferral)
    return True


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


class _DeferredMetaKernels(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The import hook of :func:`defer_torch_meta_kernels`.

    While torch imports, ``torch._meta_registrations`` is a stand-in, and so are the
    attributes ``torch._decomp``, ``torch._refs`` and ``torch._prims``: reading a name from
    any of them imports the real modules and answers from those. The stand-in leaves
    ``sys.modules`` at the first import after torch's, so a plain ``import`` of it then
    gets the real one; the hook itself stays in ``sys.meta_path`` (removing a finder while
    the import system walks the list would skip the next one) and, once the real modules
    are in, does nothing.
    """

    def __init__(self) -> None:
        self.state = "waiting"  # then "deferred" (torch imported without them), then "off"
        self.lock = threading.RLock()
        self.stand_ins: dict[str, types.ModuleType] = {}

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if self.state == "off":
            return None
        torch = sys.modules.get("torch")
        importing = torch is not None and getattr(getattr(torch, "__spec__", None), "_initializing", False)
        with self.lock:
            if self.state == "waiting":
                if name == _META and importing and self._can_defer(torch):
                    self.state = "deferred"
                    return importlib.machinery.ModuleSpec(name, self)
                if torch is not None and not importing:
                    self.state = "off"  # torch came in some other way, with its meta kernels
                return None
            if not importing and _META in self.stand_ins and sys.modules.get(_META) is self.stand_ins[_META]:
                del sys.modules[_META]  # torch is in: a plain import of it now gets the real module
            if not name.startswith("torch."):
                return None
            if name == _META:
                self._withdraw()
                return None  # the import under way is the real one
            if _under(name, _META_PARTS) or _under(name, _META_USERS):
                self.load()
                return self._already_loaded(name)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._stand_in(spec.name)

    @staticmethod
    def _can_defer(torch: types.ModuleType) -> bool:
        """Whether this torch is one whose eager use is known to need nothing deferred: 2.14,
        given Generator's metaclass (below). Any other imports as usual."""
        return (str(getattr(torch, "__version__", "")).startswith(_DEFERS_ON)
                and hasattr(getattr(torch, "_C", None), "_set_generator_metaclass")
                and "torch._custom_class_base" in sys.modules)

    def exec_module(self, module: types.ModuleType) -> None:
        torch = sys.modules["torch"]
        # torch.Generator() refuses to construct until its metaclass is set, which
        # torch._prims.rng_prims does on import (0.12 s, with the primitives); set it as
        # rng_prims does, which sets it again, to the same class, when it is imported.
        torch._C._set_generator_metaclass(sys.modules["torch._custom_class_base"].CustomClassBaseMeta)
        for part in _META_PARTS[1:]:
            attribute = part.rpartition(".")[2]
            if attribute not in vars(torch):
                setattr(torch, attribute, self._stand_in(part))

    def _stand_in(self, name: str) -> types.ModuleType:
        self.stand_ins[name] = _StandIn(name, self.load)
        return self.stand_ins[name]

    def load(self) -> None:
        """Import the real meta registrations (and with them the references, primitives and
        decompositions), in the one order in which their imports resolve."""
        with self.lock:
            if self.state != "deferred":
                return
            self._withdraw()
            importlib.import_module(_META)

    def _withdraw(self) -> None:
        self.state = "off"
        torch = sys.modules["torch"]
        for name, stand_in in self.stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
            attribute = name.rpartition(".")[2]
            if vars(torch).get(attribute) is stand_in:
                delattr(torch, attribute)

    @staticmethod
    def _already_loaded(name: str) -> importlib.machinery.ModuleSpec | None:
        """The spec for a module that loading the meta registrations has just imported, if it
        did: handing the import system that very module, rather than letting it execute the
        file a second time (which it would, having begun before the module existed)."""
        module = sys.modules.pop(name, None)
        if module is None:
            return None
        return importlib.machinery.ModuleSpec(name, _LoadedAlready(module), origin=module.__spec__.origin,
                                              is_package=hasattr(module, "__path__"))


class _LoadedAlready(importlib.abc.Loader):
    """Gives the import system a module that is already imported (see ``_already_loaded``)."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module, self.spec = module, module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self.module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self.spec  # the import system gave it ours on the way in
