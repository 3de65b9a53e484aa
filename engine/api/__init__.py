"""Stage 6: `Engine`, the embedded Cube REST API: each method returns the body Cube would send.

`engine` wires the stages together for one query (normalize -> plan -> compile -> run ->
respond) with the compile cache and the result cache; `store` holds the model served and
reloads it in dev mode.
"""

from .engine import REGULAR, COMPARE, BLENDING, Engine, parse_instant
from .store import ModelStore
from engine.run import ContinueWait

__all__ = ["Engine", "ModelStore", "ContinueWait", "parse_instant", "REGULAR", "COMPARE",
           "BLENDING"]
