"""``nfldeploy export``: checkpoint -> verified ONNX / INT8 / TorchScript artifacts and a manifest."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from nfldeploy.cli.choices import Quantize, comma_list
from nfldeploy.cli.common import CHECKPOINT_OPTION, JSON_OPTION
from nfldeploy.cli.output import print_json, stderr, stdout, warn
from nfldeploy.export.layout import DEFAULT_OUT, FORMATS
from nfldeploy.extras import require
from nfldeploy.records.manifest import Manifest


def export(
    config_path: Path = typer.Argument(..., metavar="CONFIG", help="The training run's config JSON."),
    checkpoint: Path | None = CHECKPOINT_OPTION,
    formats: str = typer.Option(
        ",".join(FORMATS),
        "--formats",
        help="Comma-separated: onnx, torchscript.",
        callback=comma_list(FORMATS),
    ),
    quantize: Quantize = typer.Option(
        Quantize.int8,
        "--quantize",
        help="int8: also write INT8 variants, each kept only if it passes the accuracy gate; or none.",
    ),
    out: Path = typer.Option(DEFAULT_OUT, "--out", "-o", help="Output directory (replaced only on success)."),
    architecture: str | None = typer.Option(
        None,
        "--architecture",
        help="nfl_graph_transformer (the training project's model), reference, or package.module:Class "
        "of your own nn.Module. Default: detected from the checkpoint's parameter names.",
    ),
    parity_tolerance: float = typer.Option(
        1e-3, min=0.0, help="Max abs difference (yards) of an FP32 artifact vs eager."
    ),
    int8_tolerance: float = typer.Option(
        0.02, min=0.0, help="Relative ADE increase INT8 may cost before it is dropped."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Export a checkpoint to serving artifacts, gated by parity (exit 3 past tolerance) and INT8 accuracy.

    Writes model.onnx, model.int8.onnx, model.torchscript.pt, model.int8.torchscript.pt, golden/requests.json, golden/outputs.json, the
    config copy and manifest.json (sha256 of everything, parity and accuracy numbers). A failed export
    leaves the output directory as it was.
    """
    require("export", "nfldeploy export")
    from nfldeploy.export.pipeline import ExportOptions, run_export

    console = stderr()
    with console.status("exporting", spinner="dots") as status:

        def on_step(message: str) -> None:
            console.log(message)
            status.update(message)

        manifest = run_export(
            ExportOptions(
                config=config_path,
                checkpoint=checkpoint,
                formats=tuple(name.strip() for name in formats.split(",") if name.strip()),
                quantize=quantize.value,
                out=out,
                architecture=architecture,
                parity_tolerance=parity_tolerance,
                int8_tolerance=int8_tolerance,
                on_step=on_step,
            )
        )
    for message in manifest.warnings:
        warn(message)
    if as_json:
        print_json(_summary(manifest, out))
        return
    _render(manifest, out)


def _summary(manifest: Manifest, out: Path) -> dict[str, object]:
    data = manifest.model_dump(mode="json")
    return {
        "out": str(out),
        "experiment_name": manifest.experiment_name,
        "config_sha256": manifest.config.sha256,
        "checkpoint_sha256": manifest.checkpoint.sha256,
        **{
            key: data[key] for key in ("artifacts", "serving_default", "parity", "accuracy", "export_seconds")
        },
    }


def _render(manifest: Manifest, out: Path) -> None:
    console = stdout()
    table = Table(title=f"exported {manifest.experiment_name} to {out}", title_justify="left")
    for column in ("artifact", "file", "size", "max abs err (yd)", "RMSE delta (yd)", "parity"):
        table.add_column(column)
    for name, artifact in manifest.artifacts.items():
        parity = manifest.parity[name]
        table.add_row(
            name,
            artifact.file,
            f"{artifact.bytes / 1024:.0f} KiB",
            f"{parity.max_abs_error:.2g}",
            f"{parity.rmse_delta:.2g}",
            "[green]ok[/]" if parity.passed else "int8: see accuracy gate",
        )
    console.print(table)
    fp32 = manifest.accuracy.fp32
    console.print(
        f"held-out FP32: RMSE {fp32.rmse:.3f} yd, ADE {fp32.ade:.3f} yd, FDE {fp32.fde:.3f} yd",
        highlight=False,
    )
    for name, gate in (
        ("onnx_int8", manifest.accuracy.onnx_int8),
        ("torchscript_int8", manifest.accuracy.torchscript_int8),
    ):
        if gate is not None:
            style = "green" if gate.kept else "yellow"
            console.print(f"[{style}]{name}: {gate.reason}[/]", highlight=False)
    console.print(
        f"serving default: {manifest.serving_default}; manifest {out / 'manifest.json'} "
        f"({manifest.export_seconds} s)",
        highlight=False,
    )
