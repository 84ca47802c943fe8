"""Build-time step of the container: GoogLeNet's ImageNet weights into the torch hub cache.

    python -m deploy.fetch_weights        # run by the Dockerfile (FETCH_WEIGHTS=1, the default)

With network, ``lab.weights.download_weights`` puts torchvision's ``googlenet-1378be20.pth``
(sha256 prefix checked) into ``$TORCH_HOME/hub/checkpoints``, where Lab 6 finds it without
network at run time. Without network the build still succeeds: it says loudly that the
image has no weights, and the hosted Lab 6 runs an untrained GoogLeNet and says so on the
page. Mount the file at run time instead (``docker run -v …/googlenet-1378be20.pth:
/opt/torch/hub/checkpoints/googlenet-1378be20.pth:ro``) or set ``DL101_GOOGLENET_WEIGHTS``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> int:
    from lab.weights import WeightsError, download_weights, hub_cache_path

    try:
        path = download_weights()
    except WeightsError as err:
        print(
            f"[weights] OFFLINE BUILD — no GoogLeNet ImageNet weights in this image ({err})\n"
            f"[weights] Lab 6 will run an untrained network and say so. To add them later, mount the file at "
            f"{hub_cache_path()} or set DL101_GOOGLENET_WEIGHTS.",
            flush=True,
        )
        return 0  # an offline build is still a working image
    print(f"[weights] GoogLeNet ImageNet weights in {path} ({path.stat().st_size / 2**20:.1f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
