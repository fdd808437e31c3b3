"""`affectbench serve MODEL…`: load the models once, then run uvicorn."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)


def serve_cmd(models: List[str] = typer.Argument(..., help="NAME=MODEL_DIR (or MODEL_DIR, or default:text), "
                                                           "one per model, e.g. tone=models/emodb text=default:text"),
              host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: every interface)"),
              port: int = typer.Option(8000, help="TCP port"),
              max_upload_mb: float = typer.Option(100.0, help="largest upload (413 beyond)"),
              max_duration: float = typer.Option(600.0, help="longest clip in seconds (413 beyond)"),
              decode_timeout: float = typer.Option(60.0, help="seconds a clip may take to decode (422 beyond)"),
              read_timeout: float = typer.Option(10.0, help="seconds between two chunks of an upload (408 beyond)"),
              max_jobs: int = typer.Option(2, min=1, help="media jobs running at once"),
              max_queue: int = typer.Option(64, min=0, help="media jobs waiting; beyond: 503 + Retry-After"),
              tmp_dir: Optional[Path] = typer.Option(None, help="where uploads are written (a fresh folder "
                                                                "inside it, removed at exit)")):
    """Serve saved models over HTTP: POST /v1/predict, GET /v1/models, /healthz, the page at /."""
    import uvicorn

    from .serve import Limits, create_app, load_models

    loaded = load_models(models)  # a bad folder is one line on stderr, before anything listens
    limits = Limits(max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_duration_s=max_duration,
                    decode_timeout_s=decode_timeout, read_timeout_s=read_timeout, max_jobs=max_jobs,
                    max_queue=max_queue)
    app = create_app(loaded, limits, tmp_dir=tmp_dir)
    print(f"serving {', '.join(loaded)} on http://{host}:{port}/  (API: /docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
