"""Class pictures by lucent 0.1.8, for bench_featurevis.py: run it with the Python of a
separate environment that has lucent (``pip install --no-deps torch-lucent==0.1.8
kornia==0.4.1 decorator ipython``) and can import this project (PYTHONPATH=src).

    python benchmarks/lucent_classes.py MODEL STEPS OUT.pt CLASS [CLASS ...]

Writes {"images": (B, 3, 224, 224), "seconds": [per picture]} to OUT.pt. Lucent's defaults
throughout (Fourier, decorrelated colour, its standard transforms, Adam 0.05), one
picture per call as its render_vis makes them, at 224 px.
"""

from __future__ import annotations

import sys
import time
import warnings

import torch

warnings.filterwarnings("ignore")


def main() -> None:
    from lucent.optvis import objectives, param, render

    from inceptionism.labels import resolve_class
    from inceptionism.models import load_model

    name, steps, out, classes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    torch.manual_seed(0)
    model = load_model(name)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    class Wrapped(torch.nn.Module):  # lucent normalizes for torchvision; the spec brings its own
        def __init__(self) -> None:
            super().__init__()
            self.lm = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lm(x * std + mean)

    wrapped = Wrapped().eval()
    images, seconds = [], []
    for text in classes:
        started = time.perf_counter()
        objective = objectives.channel("lm_net_classifier", resolve_class(text))
        result = render.render_vis(wrapped, objective, param_f=lambda: param.image(224), thresholds=(steps,),
                                   show_image=False, progress=False)
        seconds.append(time.perf_counter() - started)
        images.append(torch.from_numpy(result[-1][0]).permute(2, 0, 1))
    torch.save({"images": torch.stack(images), "seconds": seconds}, out)


if __name__ == "__main__":
    main()
