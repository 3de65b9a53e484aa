"""duckcube: Cube's REST API semantics over YAML cube models and embedded DuckDB.

    from engine import Engine
    engine = Engine(models="cubes", database="fixtures/data")
    engine.load({"measures": ["TrackedEvents.count"]})
"""

from .api import Engine
from .errors import CubeError, ModelError

__all__ = ["Engine", "CubeError", "ModelError"]
