"""Image size and cold start of the ONNX and TorchScript serving images, side by side in one run.

    python benchmarks/image.py [EXPORT_DIR] [--runs 5] [--json]

Builds both images of the export FROM the same base (cached after the first time), reports each image's own
layers (its size above the base) and its cold start: container start -> first successful /predict of a
golden request, over several runs alternating the two images. Medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import httpx
from common import export_or_example

from nfldeploy.image.engine import connect
from nfldeploy.image.pipeline import build
from nfldeploy.image.run import remove, start
from nfldeploy.render.dockerfile import ImageSpec
from nfldeploy.settings import DeploySettings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outputs" / "nfl_production_v2_config.json"


def cold_start(client: object, image: str, request: dict[str, object], timeout: float = 120.0) -> float:
    """Seconds from starting the container to its first 200 on /predict."""
    started = time.perf_counter()
    container, url = start(client, image)
    try:
        while time.perf_counter() - started < timeout:
            try:
                if httpx.post(url + "/predict", json=request, timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise SystemExit(f"{image} did not answer within {timeout} s")
    finally:
        remove(container)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export_dir", nargs="?", type=Path, default=ROOT / "outputs" / "exported_models")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    export_dir = export_or_example(args.export_dir)
    client = connect()
    settings = DeploySettings()
    base = client.images.get(settings.base_image)
    images = {}
    for runtime in ("onnx", "torchscript"):
        result = build(
            export_dir,
            ImageSpec(runtime=runtime, base_image=settings.base_image),
            "nfldeploy-bench/image",
            client=client,
        )  # type: ignore[arg-type]
        images[runtime] = result
    request = json.loads((export_dir / "golden" / "requests.json").read_text())[0]
    starts: dict[str, list[float]] = {runtime: [] for runtime in images}
    for _ in range(args.runs):
        for runtime, result in images.items():
            starts[runtime].append(cold_start(client, result.tag, request))
    base_size = int(base.attrs["Size"])
    summary = {
        runtime: {
            "image": result.tag,
            "total_mb": result.size_bytes / 1e6,
            "own_layers_mb": (result.size_bytes - base_size) / 1e6,
            "cold_start_s": statistics.median(starts[runtime]),
            "cold_starts_s": starts[runtime],
        }
        for runtime, result in images.items()
    }
    ratios = {
        "own_layers_onnx_over_torchscript": summary["onnx"]["own_layers_mb"]
        / summary["torchscript"]["own_layers_mb"],
        "cold_start_onnx_over_torchscript": summary["onnx"]["cold_start_s"]
        / summary["torchscript"]["cold_start_s"],
    }
    if args.json:
        print(json.dumps({"base_mb": base_size / 1e6, "images": summary, "ratios": ratios}, indent=2))
        return
    print(
        f"base {settings.base_image}: {base_size / 1e6:.0f} MB; cold start = container start -> first 200 on /predict, median of {args.runs}"
    )
    print(f"{'runtime':<12} {'total MB':>9} {'own MB':>8} {'cold start s':>13}")
    for runtime, row in summary.items():
        print(
            f"{runtime:<12} {row['total_mb']:>9.0f} {row['own_layers_mb']:>8.0f} {row['cold_start_s']:>13.2f}"
        )
    print(
        f"ONNX / TorchScript: own layers {ratios['own_layers_onnx_over_torchscript']:.2f}, cold start {ratios['cold_start_onnx_over_torchscript']:.2f}"
    )


if __name__ == "__main__":
    main()
