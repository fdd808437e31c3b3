"""The FastAPI application: routes, error bodies, the page, and the lifespan that owns the workers."""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AffectbenchError
from .batching import Batcher, JobPool
from .engine import Engine, model_info
from .limits import Limits, ServeError
from .uploads import receive

log = logging.getLogger("affectbench.serve")
HERE = Path(__file__).parent

PREDICT_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "properties": {
        "text": {"type": "string", "description": "one utterance"},
        "texts": {"type": "array", "items": {"type": "string"}, "description": "several utterances"},
        "model": {"type": "string", "description": "a loaded model's name (GET /v1/models)"}}}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "an audio or video clip"},
        "text": {"type": "string", "description": "the words spoken in the clip (optional)"},
        "model": {"type": "string"}}}},
    "audio/*": {"schema": {"type": "string", "format": "binary"}},
    "video/*": {"schema": {"type": "string", "format": "binary"}}}}}


def _error(status: int, error: str, detail: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def create_app(models: dict, limits: Limits | None = None, tmp_dir: str | Path | None = None) -> FastAPI:
    """An app serving already loaded models (the CLI loads them first, so a bad folder stops it there)."""
    limits = limits or Limits()
    engine = Engine(models, limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        st = app.state
        if tmp_dir is not None:
            Path(tmp_dir).mkdir(parents=True, exist_ok=True)
        st.tmp = Path(tempfile.mkdtemp(prefix="affectbench-serve-", dir=tmp_dir))
        st.pool = JobPool(limits)
        st.batchers = {n: Batcher(lambda texts, n=n: engine.run_texts(n, texts), limits.max_batch,
                                  limits.batch_wait_s, 1, f"text-{n}")
                       for n, m in engine.models.items() if "text" in m.modalities}
        st.audio_batchers = {}  # by model names (clips without words): created on first use
        for b in st.batchers.values():
            b.start()
        st.started = time.time()
        try:
            yield
        finally:
            for b in (*st.batchers.values(), *st.audio_batchers.values()):
                await b.stop()
            st.pool.shutdown()
            shutil.rmtree(st.tmp, ignore_errors=True)

    app = FastAPI(title="affectbench", version=_version(), lifespan=lifespan,
                  description="Emotion recognition on audio, video and text with saved affectbench models.")
    app.state.engine, app.state.limits = engine, limits
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _handlers(app)
    _routes(app, engine, limits)
    return app


def _version() -> str:
    from .. import __version__

    return __version__


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ServeError)
    async def serve_error(request, e: ServeError):
        return _error(e.status, e.error, e.detail, e.headers)

    @app.exception_handler(AffectbenchError)
    async def lib_error(request, e: AffectbenchError):
        return _error(422, type(e).__name__, str(e))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, e: RequestValidationError):
        return _error(422, "bad_request", "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}"
                                                    for x in e.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, e: StarletteHTTPException):
        return _error(e.status_code, {404: "not_found", 405: "method_not_allowed"}.get(
            e.status_code, "http_error"), str(e.detail), getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request, e: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, "internal", f"{type(e).__name__}: {e}")


def _texts(body) -> list[str]:
    if not isinstance(body, dict):
        raise ServeError(422, "bad_request", 'send a JSON object: {"text": "..."} or {"texts": [...]}')
    texts = body.get("texts", [body["text"]] if "text" in body else None)
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ServeError(422, "bad_request", 'send {"text": "a sentence"} or {"texts": ["...", ...]}')
    return texts


def _check_texts(texts: list[str], limits: Limits) -> list[str]:
    if not texts or any(not t.strip() for t in texts):
        raise ServeError(422, "empty_text", "empty text: send at least one non-blank sentence")
    if len(texts) > limits.max_texts:
        raise ServeError(413, "too_many_texts", f"{len(texts)} texts, the limit is {limits.max_texts}")
    long = max(len(t) for t in texts)
    if long > limits.max_text_chars:
        raise ServeError(413, "text_too_long", f"a text of {long} characters, the limit is "
                                               f"{limits.max_text_chars}")
    return texts


def _routes(app: FastAPI, engine: Engine, limits: Limits) -> None:
    async def text_job(request: Request, texts: list[str], name: str | None) -> dict:
        name = engine.pick("text", name)
        batcher = request.app.state.batchers[name]
        if batcher.queue.qsize() >= limits.max_text_queue:
            raise ServeError(503, "busy", f"{batcher.queue.qsize()} text requests waiting (limit "
                                          f"{limits.max_text_queue}); try again shortly",
                             headers={"Retry-After": str(limits.retry_after_s)})
        segs = await batcher.submit(_check_texts(texts, limits))
        return {"file": None, "segments": [{k: v for k, v in s.items() if k not in ("messages", "models_used")}
                                           for s in segs],
                "messages": segs[0]["messages"], "modalities_present": ["text"],
                "models_used": segs[0]["models_used"]}

    @app.post("/v1/predict", openapi_extra=PREDICT_BODY,
              summary="Emotion timeline for an uploaded clip, or class probabilities for text")
    async def predict(request: Request, model: str | None = None):
        st = request.app.state
        if request.headers.get("content-type", "").lower().startswith("application/json"):
            up = await receive(request, st.tmp, limits)
            body = up.json
            return await text_job(request, _texts(body), (body.get("model") if isinstance(body, dict)
                                                          else None) or model)
        with st.pool.admit():  # 503 before a byte of the body is read
            folder = Path(tempfile.mkdtemp(prefix="job-", dir=st.tmp))
            try:
                up = await receive(request, folder, limits)
                name = up.fields.get("model") or model
                if up.path is None:
                    if up.fields.get("text", "").strip() or "text" in up.fields:
                        return await text_job(request, [up.fields.get("text", "")], name)
                    raise ServeError(422, "bad_request", "no 'file' field and no 'text' in the form")
                job = await st.pool.run(engine.prepare, up.path, up.name, {**up.fields, "model": name})
                if isinstance(job, dict):  # a video: answered whole
                    return job
                if job.text is not None:  # words for this clip alone: its own predict call
                    return (await st.pool.run(engine.run_audio, [job]))[0]
                return (await _audio_batcher(st, engine, limits, job.key).submit([job]))[0]
            finally:
                shutil.rmtree(folder, ignore_errors=True)

    @app.get("/v1/models", summary="The loaded models: names, labels, modalities, the metrics that vouch for them")
    async def models():
        return {"models": [model_info(n, m) for n, m in engine.models.items()],
                "limits": limits.to_dict()}

    @app.get("/healthz", summary="Liveness, and what the workers are doing")
    async def healthz(request: Request):
        st = request.app.state
        return {"status": "ok", "models": list(engine.models), "jobs_pending": st.pool.pending,
                "jobs_done": st.pool.done,
                "text_batches": {n: vars(b.stats) for n, b in st.batchers.items()},
                "audio_batches": {"+".join(str(k) for k in key if k): vars(b.stats)
                                  for key, b in st.audio_batchers.items()},
                "uptime_s": round(time.time() - st.started, 1)}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(_page(engine, limits))


def _audio_batcher(st, engine: Engine, limits: Limits, key) -> Batcher:
    if key not in st.audio_batchers:
        st.audio_batchers[key] = Batcher(engine.run_audio, limits.max_audio_batch, limits.batch_wait_s,
                                         limits.max_jobs, "audio-batch")
    return st.audio_batchers[key]


def _page(engine: Engine, limits: Limits) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    return env.get_template("index.html.j2").render(
        models=[model_info(n, m) for n, m in engine.models.items()], limits=limits, version=_version())
