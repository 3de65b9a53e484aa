"""Stage 1: Cube model files -> a validated, immutable `Model`.

    from engine.model import load_model
    model = load_model("cubes")          # ModelError (file, line, member) when it is broken
    model.cubes["TrackedEvents"].measures["count"].path   # 'TrackedEvents.count'

`load` reads and checks the model files (`jinja` renders templated YAML with `globals.py`
helpers, `js` runs JavaScript models, `project` reads a Cube project's layout and .env); `types` holds what it builds (Model, Cube, Member, Template,
...); `naming` Cube's name rules (titles, SQL aliases). Nothing here knows queries or SQL.
"""

from .load import build_model, is_model_file, load_model
from .project import Project, read_env_file, read_project
from .naming import member_alias, titleize, underscore
from .types import (DIMENSION_TYPES, MEASURE_TYPES, RELATIONSHIP_META_NAMES, Cube, CubeRef,
                    Granularity, Join, Member, MemberRef, Model, RollingWindow, Template,
                    TemplatePart, duckdb_interval, is_natural_interval, parse_interval,
                    parse_template)

__all__ = [
    "load_model", "build_model", "is_model_file", "Project", "read_env_file", "read_project",
    "member_alias", "titleize", "underscore", "DIMENSION_TYPES", "MEASURE_TYPES",
    "RELATIONSHIP_META_NAMES", "Cube", "CubeRef", "Granularity", "Join", "Member", "MemberRef",
    "Model", "RollingWindow", "Template", "TemplatePart", "duckdb_interval",
    "is_natural_interval", "parse_interval", "parse_template",
]
