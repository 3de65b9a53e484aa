"""The `cube` Python module that a model's `globals.py` (and a project's `cube.py`) import.

Cube runs Python helpers for Jinja-templated YAML models with its own `cube` package:

    from cube import TemplateContext
    template = TemplateContext()

    @template.function('table_name')      # or @template.function (the function's own name)
    def table_name(base): ...
    template.add_variable('schema', 'public')
    @template.filter('upper')
    def upper(text): ...

This module is that API, written for duckcube. It is not importable as `cube` in general: the
loader installs it under that name only while it runs a model's Python files
(`engine.model.python_files`), restoring whatever `cube` was before, so it never shadows another
package of the same name.
"""

from __future__ import annotations

import functools
from typing import Any, Callable


class TemplateException(Exception):
    pass


class ConfigurationException(Exception):
    pass


class SafeString(str):
    """Text Jinja prints as is (other values are printed JSON-escaped, as in Cube)."""

    is_safe = True


class TemplateContext:
    """What a `globals.py` registers for its Jinja templates: functions, variables, filters."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable] = {}
        self.variables: dict[str, Any] = {}
        self.filters: dict[str, Callable] = {}

    def add_function(self, name: str, func: Callable) -> None:
        if not callable(func):
            raise TemplateException(f"function registration must be used with functions, "
                                    f"actual: '{type(func).__name__}'")
        self.functions[name] = func

    def add_variable(self, name: str, value: Any) -> None:
        if name in self.functions:
            raise TemplateException(f"unable to register variable: name '{name}' is already "
                                    "in use for function")
        self.variables[name] = value

    def add_filter(self, name: str, func: Callable) -> None:
        if not callable(func):
            raise TemplateException(f"filter registration must be used with functions, "
                                    f"actual: '{type(func).__name__}'")
        self.filters[name] = func

    def function(self, func: Callable | str) -> Callable:
        if isinstance(func, str):
            return _registrar(self.add_function, func)
        self.add_function(func.__name__, func)
        return func

    def filter(self, func: Callable | str) -> Callable:
        if isinstance(func, str):
            return _registrar(self.add_filter, func)
        self.add_filter(func.__name__, func)
        return func


def _registrar(register: Callable[[str, Callable], None], name: str) -> Callable:
    def decorate(func: Callable) -> Callable:
        register(name, func)
        return func
    return decorate


def context_func(func: Callable) -> Callable:
    func.cube_context_func = True  # type: ignore[attr-defined]
    return func


def memo(func: Callable) -> Callable:
    """Cache a helper's result per arguments for the load in progress (one cache per call of
    `functools.lru_cache`'s key rules: hashable arguments only; others are not cached)."""
    cached = functools.lru_cache(maxsize=None)(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return cached(*args, **kwargs)
        except TypeError:
            return func(*args, **kwargs)
    return wrapper


class Configuration:
    """`cube.py`'s `config`: `@config('name')` / `@config` on a function, or `config.x = ...`.
    duckcube reads `context_to_app_id` (and keeps the rest for inspection)."""

    _KNOWN = (
        "web_sockets", "http", "graceful_shutdown", "process_subscriptions_interval",
        "web_sockets_base_path", "schema_path", "base_path", "dev_server", "api_secret",
        "cache_and_queue_driver", "allow_js_duplicate_props_in_schema", "jwt",
        "scheduled_refresh_timer", "scheduled_refresh_time_zones",
        "scheduled_refresh_concurrency", "scheduled_refresh_batch_size", "compiler_cache_size",
        "update_compiler_cache_keep_alive", "max_compiler_cache_keep_alive", "telemetry",
        "sql_cache", "live_preview", "pg_sql_port", "sql_super_user", "sql_user",
        "sql_password", "logger", "context_to_app_id", "context_to_orchestrator_id",
        "context_to_cube_store_router_id", "driver_factory", "external_driver_factory",
        "check_auth", "check_sql_auth", "can_switch_sql_user", "query_rewrite",
        "extend_context", "scheduled_refresh_contexts", "context_to_api_scopes",
        "repository_factory", "schema_version", "semantic_layer_sync",
        "pre_aggregations_schema", "orchestrator_options", "context_to_groups",
        "context_to_roles", "query_tags", "fast_reload",
    )

    def __init__(self) -> None:
        for name in self._KNOWN:
            object.__setattr__(self, name, None)

    def __call__(self, func: Callable | str) -> Callable:
        if isinstance(func, str):
            name = func

            def decorate(inner: Callable) -> Callable:
                self._set(name, inner)
                return inner
            return decorate
        if not callable(func):
            raise ConfigurationException("@config decorator must be used with functions, "
                                         f"actual: '{type(func).__name__}'")
        self._set(func.__name__, func)
        return func

    def _set(self, name: str, value: Any) -> None:
        if name not in self._KNOWN:
            raise ConfigurationException(f"Unknown configuration property: '{name}'")
        object.__setattr__(self, name, value)


def new_module_namespace() -> dict[str, Any]:
    """A fresh `cube` module's names for one load (a new `config`, so loads do not share it)."""
    config = Configuration()
    return {
        "TemplateContext": TemplateContext, "TemplateException": TemplateException,
        "SafeString": SafeString, "context_func": context_func, "memo": memo,
        "Configuration": Configuration, "ConfigurationException": ConfigurationException,
        "config": config, "settings": config,
    }
