"""The README's tested recipes: the code blocks marked `<!-- host-recipe: NAME -->`, read as written."""

import re

from tests.conftest import PROJECT_ROOT

RECIPE = re.compile(r"<!-- host-recipe: (?P<name>\S+) -->\n```\w*\n(?P<code>.*?)```", re.DOTALL)


def recipe_blocks():
    """{name: code} of every marked block of README.md."""
    text = (PROJECT_ROOT / "README.md").read_text()
    return {match["name"]: match["code"] for match in RECIPE.finditer(text)}
