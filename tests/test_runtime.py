"""Process-wide settings: freed buffers kept, timm without dynamo, torch without its meta kernels."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json, resource, sys
from inceptionism.runtime import keep_freed_memory
kept = keep_freed_memory()
import torch
def a_step():  # buffers of a few sizes, written, then freed, as a gradient step does
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = torch.ones(64 << 18); b = torch.ones(16 << 18); c = a + 1
    del a, b, c
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults = []
def steps():
    faults.extend(a_step() for _ in range(15))
if sys.argv[1:] == ["thread"]:  # as the studio's workers dream: not on the main thread
    import threading
    worker = threading.Thread(target=steps); worker.start(); worker.join()
else:
    steps()
print(json.dumps({"kept": kept, "again": keep_freed_memory(), "faults": faults[5:]}))
"""


def run_child(keep: str, *where: str) -> dict:
    env = {**os.environ, "INCEPTIONISM_KEEP_FREED_MEMORY": keep}
    out = subprocess.run([sys.executable, "-c", CHILD, *where], capture_output=True, text=True, env=env, check=True, timeout=300)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
@pytest.mark.parametrize("where", [(), ("thread",)])
def test_freed_memory_is_reused_only_when_kept(where) -> None:
    kept, returned = run_child("1", *where), run_child("0", *where)
    assert kept["kept"] and kept["again"] and not returned["kept"]
    pages = (64 << 20) // os.sysconf("SC_PAGE_SIZE")  # one of the 64 MB buffers
    # Returned: the OS hands out and zeroes the pages again, every step.
    assert min(returned["faults"]) > pages, returned["faults"]
    # Kept: once the first steps have grown the heap, it holds the buffers a step needs
    # (glibc's aligned allocation still misses now and then: it is not a hard zero).
    assert sum(kept["faults"]) < 0.2 * sum(returned["faults"]), kept["faults"]


def test_the_command_line_does_not_import_torch_before_it_must() -> None:
    # `inceptionism --help` and friends start in a fraction of a second.
    code = "import sys, inceptionism, inceptionism.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == "False"


def test_a_passing_thread_leaves_no_pool_of_helper_threads_behind():
    """A thread that computes in parallel keeps OpenMP helper threads alive beside it for as
    long as it lives, which throttles every other thread's dream. Work done through
    ``on_passing_thread`` leaves none behind (and its errors and results come back)."""
    import os
    import threading
    import time

    import torch

    from inceptionism.runtime import on_passing_thread

    if torch.get_num_threads() < 2:
        pytest.skip("torch computes on one thread here: there is no pool to leave")

    def compute() -> float:
        x = torch.rand(1, 32, 160, 160)
        return float(torch.nn.functional.conv2d(x, torch.rand(32, 32, 3, 3), padding=1).relu().sum())

    def tasks() -> set[str]:
        return set(os.listdir("/proc/self/task"))

    seen = {}

    # Threads are told apart by id, not counted: another test's background thread that ends
    # meanwhile would otherwise cancel out a helper that stayed (CI saw 0 helpers that way).
    def left_behind(before: set[str], *, wait_for_them: bool) -> int:
        """New threads still alive; with ``wait_for_them``, once they have gone (the helpers of an
        ended thread exit a moment after it; a loaded machine may take seconds), at most 60 s."""
        deadline = time.monotonic() + 60
        while wait_for_them and tasks() - before and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(tasks() - before)

    def request(passing: bool) -> None:  # as a server's request thread, which lives on
        before = tasks()
        value = on_passing_thread(compute) if passing else compute()
        # passing: the helpers went with the passing thread; plain: this thread's helpers live as long as it does
        seen[passing] = (left_behind(before, wait_for_them=passing), value > 0)

    for passing in (True, False):
        thread = threading.Thread(target=request, args=(passing,))
        thread.start()
        thread.join()
    assert seen[True] == (0, True), seen
    assert seen[False][0] >= 1, seen  # the contrast: plain parallel work leaves helpers alive

    def fails() -> None:
        raise ValueError("from the passing thread")

    with pytest.raises(ValueError, match="from the passing thread"):
        on_passing_thread(fails)


IMPORT_TIMM = r"""
import sys, torch
from inceptionism.imports import import_timm
timm = import_timm()
assert "torch._dynamo" not in sys.modules and "torch._dynamo.utils" not in sys.modules, "dynamo was imported"
timm.create_model("inception_v3")  # a network builds without it
assert "torch._dynamo" not in sys.modules
# torchvision's roi_align got a stand-in that asks the real dynamo when called
answer = sys.modules["torchvision.ops.roi_align"].is_compile_supported("cpu")
import torch._dynamo
from torch._dynamo.utils import is_compile_supported
assert answer == is_compile_supported("cpu") and hasattr(torch._dynamo, "__file__"), "not the real dynamo"
print("ok")
"""

DEFERRED_DISABLE = r"""
import sys, torch
from inceptionism.imports import _dynamo_stand_ins
stand_ins = _dynamo_stand_ins()
sys.modules.update(stand_ins)  # as while timm imports
assert not hasattr(stand_ins["torch._dynamo.utils"], "__file__")  # inspect's question does not import dynamo
f = torch.compiler.disable(lambda x: x + 1)  # what timm's naflexvit does at import
assert sys.modules["torch._dynamo"] is stand_ins["torch._dynamo"], "disabling imported the real dynamo"
assert f(1) == 2
assert sys.modules["torch._dynamo"] is not stand_ins["torch._dynamo"], "the stand-ins stayed"
(disabled,) = [cell.cell_contents for cell in f.__closure__ if isinstance(cell.cell_contents, list)][0]
assert disabled._torchdynamo_disable  # the real torch._dynamo.disable, applied on the first call
print("ok")
"""


@pytest.mark.parametrize("code", [IMPORT_TIMM, DEFERRED_DISABLE], ids=["import_timm", "deferred_disable"])
def test_timm_imports_without_torch_dynamo_which_still_works_when_used(code) -> None:
    """Importing torch._dynamo is most of timm's import time; nothing needs it until it is used."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


DEFERRED_META = r"""
import importlib, sys
from inceptionism.imports import defer_torch_meta_kernels
assert defer_torch_meta_kernels()
import torch
def real():  # (asking the stand-in for a name would bring the real module in)
    return "activate_meta" in vars(sys.modules.get("torch._meta_registrations", sys))
assert not real() and not {"torch._decomp", "torch._refs", "torch._prims"} & set(sys.modules), "imported with torch"
x = torch.randn(1, 3, 16, 16, requires_grad=True)  # eager work needs none of it
torch.nn.functional.conv2d(x, torch.randn(4, 3, 3, 3)).sum().backward()
torch.rand(2, generator=torch.Generator().manual_seed(0))  # Generator's metaclass is set without rng_prims
import colorsys  # the first import after torch's own: the stand-in leaves sys.modules
assert "torch._meta_registrations" not in sys.modules and not real()
USE
assert real(), "the real meta kernels did not come in"
a = torch.empty(4, 4, device="meta")
assert torch.cdist(a, a).shape == (4, 4)  # a shape function that only the Python registrations give
print("ok")
"""

META_USES = {
    "torch.compile": "assert torch.compile(lambda a: a.sin() * 2, backend='aot_eager')(torch.ones(3)).equal(torch.ones(3).sin() * 2)",
    "torch.broadcast_shapes": "assert torch.broadcast_shapes((2, 1), (1, 3)) == (2, 3)  # reads torch._refs",
    "decompositions first": "importlib.import_module('torch._decomp.decompositions')\n"
                            "assert torch._decomp.global_decomposition_table['post_autograd'], 'torch._decomp ran twice'\n"
                            "assert type(torch._decomp.__spec__.loader).__name__ == 'SourceFileLoader'",
    "a name of the stand-in": "assert callable(torch._meta_registrations.device_hint)",
    "a plain import": "from torch._meta_registrations import device_hint",
}


@pytest.mark.parametrize("use", list(META_USES), ids=list(META_USES))
def test_torch_imports_without_its_meta_kernels_which_come_in_when_needed(use) -> None:
    """torch._meta_registrations is 0.3 s of import torch; only compiling, exporting and meta tensors need it.

    "decompositions first" is the case that breaks when done naively: torch._decomp imported
    before torch._meta_registrations is a circular import that fails.
    """
    code = DEFERRED_META.replace("USE", META_USES[use])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


@pytest.mark.parametrize("how", ["turned off", "torch imported before"])
def test_meta_kernels_come_with_torch_where_not_deferred(how) -> None:
    before = "import torch\n" if how == "torch imported before" else ""
    code = (before + "import sys\nfrom inceptionism.imports import defer_torch_meta_kernels\n"
            "print(defer_torch_meta_kernels())\nimport torch, colorsys\n"
            "print(hasattr(sys.modules['torch._meta_registrations'], 'activate_meta'))")
    env = {**os.environ, "INCEPTIONISM_DEFER_TORCH_META": "0" if how == "turned off" else "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.stdout.split() == ["False", "True"], done.stderr[-3000:]


def test_meta_kernels_are_deferred_only_for_a_torch_known_to_allow_it() -> None:
    from types import SimpleNamespace

    from inceptionism.imports import _DeferredMetaKernels

    c = SimpleNamespace(_set_generator_metaclass=print)
    assert _DeferredMetaKernels._can_defer(SimpleNamespace(__version__="2.14.1+cu130", _C=c))
    assert not _DeferredMetaKernels._can_defer(SimpleNamespace(__version__="2.15.0", _C=c))
    assert not _DeferredMetaKernels._can_defer(SimpleNamespace(__version__="2.14.1", _C=SimpleNamespace()))


def test_timm_and_torchvision_import_and_dream_without_torch_meta_kernels() -> None:
    """torchvision's ops import torch.onnx to register their exports: that must not bring
    the meta kernels in, or every timm network pays 0.3 s more (W3 did, until checked)."""
    code = "\n".join([
        "import sys",
        "from inceptionism.imports import defer_torch_meta_kernels, import_timm",
        "assert defer_torch_meta_kernels()",
        "import torch",
        "timm = import_timm()",
        "x = torch.rand(1, 3, 128, 128, requires_grad=True)",
        "timm.create_model('inception_v3').eval()(x).sum().backward()",
        "assert x.grad.abs().sum() > 0 and 'torchvision.ops' in sys.modules",
        "print('activate_meta' in vars(sys.modules.get('torch._meta_registrations', sys)))",
    ])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-3000:]
