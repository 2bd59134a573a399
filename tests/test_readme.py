"""Fast tier: the generated README's examples fit the project they are baked into."""

import json
import re

import pytest

# The feature columns of the default data (params.yaml's data.source by task), scikit-learn's
# bundled sets, in their order: the breast cancer set's ten measurements as mean, standard
# error and worst value; the diabetes set's ten baseline variables.
MEASUREMENTS = [
    "radius",
    "texture",
    "perimeter",
    "area",
    "smoothness",
    "compactness",
    "concavity",
    "concave points",
    "symmetry",
    "fractal dimension",
]
DEFAULT_COLUMNS = {
    "classification": [
        *(f"mean {name}" for name in MEASUREMENTS),
        *(f"{name} error" for name in MEASUREMENTS),
        *(f"worst {name}" for name in MEASUREMENTS),
    ],
    "regression": ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"],
}


def predict_examples(readme: str) -> list[dict]:
    """The JSON bodies the README's curl commands post to /predict inline (-d '...')."""
    bodies = re.findall(r"curl [^\n]*/predict [^\n]*-d '(.*?)'", readme, re.S)
    return [json.loads(body) for body in bodies]


@pytest.mark.parametrize("task", DEFAULT_COLUMNS)
def test_the_predict_example_sends_a_whole_row_of_the_default_data(bakery, task) -> None:
    readme = (bakery(task=task) / "README.md").read_text()
    [body] = predict_examples(readme)
    [row] = body["records"]
    assert list(row) == DEFAULT_COLUMNS[task]
    assert all(isinstance(value, float) for value in row.values())
    assert '["smoke"]["rows"]' in readme, "no way to a valid body for other data"
