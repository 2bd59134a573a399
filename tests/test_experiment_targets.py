"""Fast tier: `make experiments` and `make compare` call the command line as the README says."""

from .test_environment_targets import arguments, fake_project, make


def test_experiments_is_listed_and_compare_takes_one_or_two_sides(bakery, tmp_path) -> None:
    env = fake_project(bakery(), tmp_path)
    help_lines = make(tmp_path, env, "help").stdout.splitlines()
    assert any(line.split()[0] == "experiments" for line in help_lines), help_lines
    assert arguments(make(tmp_path, env, "experiments"))[2:] == ["experiments"]
    one_side = ["compare", "--base=main", "--out", "reports/compare.md", "--plots", "dvc_plots"]
    assert arguments(make(tmp_path, env, "compare"))[2:] == one_side
    two_sides = make(tmp_path, env, "compare", "BASE=lusty-yarn", "HEAD=bosky-ware")
    named = ["compare", "--base=lusty-yarn", "--head=bosky-ware", *one_side[2:]]
    assert arguments(two_sides)[2:] == named
