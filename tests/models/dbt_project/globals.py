from pathlib import Path

from cube import TemplateContext
from cube_dbt import Dbt

dbt = Dbt.from_file(Path(__file__).parent / "manifest.json").filter(paths=["marts/"])
template = TemplateContext()


@template.function("dbt_models")
def dbt_models():
    return dbt.models


@template.function("dbt_model")
def dbt_model(name):
    return dbt.model(name)
