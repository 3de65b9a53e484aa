"""The model an engine serves, and dev-mode hot reload of its YAML files.

    store = ModelStore("cubes", watch=True)   # duckcube serve --dev
    store.refresh()        # per request: reloads if a model file (YAML, Jinja, JS, Python helper) changed, was added or removed
    store.model, store.version, store.error

A broken edit does not take the server down: `refresh()` keeps the last good model, logs the
error once with its file and line, and keeps it in `error` (the server shows it in the
`x-duckcube-model-error` response header) until the files load again.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from engine.run import check_refresh_keys
from engine.errors import ModelError
from engine.model import Model, load_model
from engine.compile import check_model_sql

log = logging.getLogger("duckcube")

_PATTERNS = ("*.yml", "*.yaml", "*.jinja", "*.js", "*.py")


class ModelStore:
    """The current model of a directory (or a fixed `Model`) and its version number."""

    def __init__(self, models: str | Path | Model, watch: bool = False,
                 compile_context: dict | None = None):
        self.watch = watch and not isinstance(models, Model)
        # What Jinja and JS models see as COMPILE_CONTEXT (default {"securityContext": {}}).
        self.compile_context = compile_context
        self.version = 1
        self.error: ModelError | None = None
        self._lock = threading.Lock()
        if isinstance(models, Model):
            self.directory = models.directory
            self._signature: tuple = ()
            self.model = models
        else:
            self.directory = Path(models)
            self._signature = self._scan()
            self.model = load_model(self.directory, self.compile_context)
        _check(self.model)

    def _scan(self) -> tuple:
        files = []
        for pattern in _PATTERNS:
            for path in self.directory.rglob(pattern):
                try:
                    stat = path.stat()
                except OSError:
                    continue
                files.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(files))

    def refresh(self) -> Model:
        """In watch mode, reload when the files changed; always return the model to serve."""
        if not self.watch:
            return self.model
        signature = self._scan()
        if signature == self._signature:
            return self.model
        with self._lock:
            if signature == self._signature:
                return self.model
            self._signature = signature
            try:
                model = load_model(self.directory, self.compile_context)
                _check(model)
            except ModelError as exc:
                self.error = exc
                log.error("model reload failed, still serving the last good model: %s",
                          exc)
                return self.model
            self.model = model
            self.version += 1
            self.error = None
            log.info("model reloaded (%d cubes, version %d)", len(model.cubes),
                     self.version)
            return self.model


def _check(model: Model) -> None:
    """What a model must pass beyond loading: readable member SQL, valid refresh keys."""
    check_model_sql(model)
    check_refresh_keys(model)
