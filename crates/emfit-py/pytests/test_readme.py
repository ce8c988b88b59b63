"""The Python examples of the README run, and say what the README says they
do: each ```python block of its "From Python" section is executed as it
stands and its printed figures are checked."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"


def examples():
    text = README.read_text()
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run(code):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    return out.getvalue()


def test_the_readme_has_the_three_scenarios():
    assert len(examples()) == 3


def test_scenario_1_gmm_hmm_decodes_a_fresh_sample():
    out = run(examples()[0])
    accuracy = float(re.search(r"Viterbi accuracy ([0-9.]+)", out).group(1))
    assert accuracy >= 0.97, out
    assert "termination: converged" in out


def test_scenario_2_mixture_finds_the_weights():
    out = run(examples()[1])
    low, high = map(float, re.search(r"weights \[([0-9.]+) ([0-9.]+)\]", out).groups())
    assert low == pytest.approx(0.3, abs=0.05) and high == pytest.approx(0.7, abs=0.05), out
    assert "converged True" in out


def test_scenario_3_state_space_em_finds_a():
    out = run(examples()[2])
    error = float(re.search(r"A within ([0-9.]+)%", out).group(1))
    assert error < 5.0, out
