"""``orbsym derive`` output reads unambiguously: a scalar coefficient stands in front of the operator
product it multiplies, with its sign, never between ``c^dag`` and ``c`` (issue 22: the text
``c_n^dag - (i (t + t'))/2 L_x c_{n+e_x}`` read as a subtraction).

The plain-text output is parsed back, term by term, into (coefficient, left operator, matrix, right
operator) and the sum of ``coefficient * matrix`` is compared with the derivation itself
(:func:`orbsym.symbolic.continuity.derive`, not the renderer): a wrong sign, a coefficient between the
operators or a lost factor fails.  Random models (hypothesis) check the same on complex,
non-Hermitian hoppings.
"""

import functools
import re

import pytest
import sympy as sp
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sympy.parsing.sympy_parser import implicit_multiplication, parse_expr, standard_transformations

from orbsym.symbolic.continuity import derive
from orbsym.symbolic.generators import pauli
from orbsym.symbolic.models import SYMBOLS, Model, builtin_model
from orbsym.symbolic.render import render, render_generic

BUILTINS = ["multiorbital", "altermagnet", "ferromagnet", "ferromagnet-spin"]
DIRS = {(1, 0): "x", (0, 1): "y"}
TRANSFORMS = standard_transformations + (implicit_multiplication,)

LEFT = r"c_n\^†|\(∂\^[-+2]_[xy] c_n\)\^†"
RIGHT = r"c_n\+e_[xy]|c_n|\(∂\^[-+2]_[xy] c_n\)"
MATRIX = r"\[\[.*\]\]|\([^()]*\)|\|[LσS]_[xyz]\||[LσS]_[xyz]|𝟙"
TERM = re.compile(rf"^(?P<coef>.*?)\s*(?P<left>{LEFT})\s+(?P<mat>{MATRIX})\s+(?P<right>{RIGHT})$")


# ----------------------------------------------------------------------------- a small reader of the text
def split_terms(rhs):
    """``[(sign, term), ...]`` of a sum, split at `` + `` / `` - `` outside every bracket."""
    s = rhs.strip()
    sign = 1
    if s.startswith("-"):
        sign, s = -1, s[1:].lstrip()
    out, depth, start, i = [], 0, 0, 0
    while i < len(s):
        ch = s[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and s[i:i + 3] in (" + ", " - "):
            out.append((sign, s[start:i].strip()))
            sign = 1 if s[i + 1] == "+" else -1
            i += 3
            start = i
            continue
        i += 1
    out.append((sign, s[start:].strip()))
    return out


def scalar(text, names):
    """A coefficient of the text output as a SymPy number/expression (``""`` is 1)."""
    s = text.strip()
    if not s:
        return sp.Integer(1)
    for a, b in (("t'", "tp"), ("γ", "gamma"), ("μ", "mu")):
        s = s.replace(a, b)
    s = re.sub(r"\bi\b", "I", s)
    return parse_expr(s, local_dict={**names, "I": sp.I}, transformations=TRANSFORMS)


def named_matrices(gens):
    sym = "σ" if gens.name == "sigma" else gens.name
    out = {"𝟙": sp.eye(gens.dim)}
    for a, (m, am) in enumerate(zip(gens.matrices, gens.absolute())):
        out[f"{sym}_{'xyz'[a]}"] = sp.Matrix(m)
        out[f"|{sym}_{'xyz'[a]}|"] = sp.Matrix(am)
    if gens.dim == 2 and gens.name != "sigma":
        for a, m in enumerate([[[0, 1], [1, 0]], [[0, -sp.I], [sp.I, 0]], [[1, 0], [0, -1]]]):
            out[f"σ_{'xyz'[a]}"] = sp.Matrix(m)
    return out


def matrix(text, gens, names):
    mats = named_matrices(gens)
    if text in mats:
        return mats[text]
    if text.startswith("[["):
        return sp.Matrix(scalar(text, names))
    assert text.startswith("(") and text.endswith(")"), text
    total = sp.zeros(gens.dim)
    for sign, part in split_terms(text[1:-1]):
        coef, name = part.rsplit(" ", 1) if " " in part else ("", part)
        total += sign * scalar(coef, names) * mats[name]
    return total


def operator_key(text):
    """``c_n`` -> "c", ``(∂^-_y c_n)`` -> ("-", (0, 1)); ``c_n+e_x`` -> the bond's far end."""
    text = text.removesuffix("^†")
    if text in ("c_n",) or text.startswith("c_n+e_"):
        return "c"
    m = re.fullmatch(r"\(∂\^([-+2])_([xy]) c_n\)", text)
    return (m.group(1), {"x": (1, 0), "y": (0, 1)}[m.group(2)])


def read_sum(rhs, gens, names):
    """``{(left, right): matrix}`` of a rendered sum of bilinears; every term must read
    ``coefficient  (u c)^dag  MATRIX  (v c)`` with nothing but a scalar before the operators."""
    form = {}
    if rhs.strip() == "0":
        return form
    for sign, term in split_terms(rhs):
        if term.startswith("(") and term.endswith(" + h.c.)"):  # (c^† X (v c) + h.c.): the term and its conjugate
            for key, value in read_sum(term[1:-len(" + h.c.)")], gens, names).items():
                for k, v in ((key, value), (key[::-1], value.H)):
                    form[k] = form.get(k, sp.zeros(gens.dim)) + sign * v
            continue
        m = TERM.match(term)
        assert m, f"term {term!r} is not `coefficient c^dag MATRIX c` (a coefficient between the operators?)"
        assert "†" not in m["coef"] and "c_n" not in m["coef"], term
        key = (operator_key(m["left"]), operator_key(m["right"]))
        value = sign * scalar(m["coef"], names) * matrix(m["mat"], gens, names)
        form[key] = form.get(key, sp.zeros(gens.dim)) + value
    return form


def equations(text, lhs_pattern):
    """``{lhs: rhs}`` of the indented equation lines ``lhs = rhs`` (``, `` separates several)."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("    "):
            continue
        for m in re.finditer(rf"({lhs_pattern}) = (.*?)(?=, {lhs_pattern} = |$)", line.strip()):
            out[m.group(1)] = m.group(2)
    return out


def assert_same(form, expected, dim, what):
    for key in set(form) | set(expected):
        diff = sp.Matrix(form.get(key, sp.zeros(dim))) - sp.Matrix(expected.get(key, sp.zeros(dim)))
        assert diff.applyfunc(sp.expand).is_zero_matrix, f"{what}: rendered {key} term differs from the derivation by {diff}"


def parameter_names(model):
    """Every symbol of the model by name (the parameters and any other free symbol of its matrices)."""
    free = set(model.parameters)
    for m in [*model.hoppings.values(), model.onsite]:
        free |= sp.Matrix(m).free_symbols
    return {s.name: s for s in free}


def check_model_text(model, text):
    """Bond currents and Eq.-(10) torques of the text output equal the derivation, term by term."""
    der = derive(model)
    gens = der.generators
    names = parameter_names(model)
    currents = equations(text, r"j_[xyz],n,[xy]")
    assert len(currents) == 3 * len(model.offsets), sorted(currents)
    for a in "xyz":
        for d in model.offsets:
            rhs = currents[f"j_{a},n,{DIRS[d]}"]
            if rhs == "0":
                assert der.current[(a, d)].terms.get(((0, 0), d)) is None
                continue
            assert rhs.endswith(" + h.c."), rhs
            assert re.search(rf"c_n\+e_{DIRS[d]}$", rhs[: -len(" + h.c.")]), rhs
            form = read_sum(rhs[: -len(" + h.c.")], gens, names)
            assert list(form) == [("c", "c")], form
            assert_same(form, {("c", "c"): sp.Matrix(der.current[(a, d)].terms[((0, 0), d)])}, gens.dim, f"j_{a},n,{DIRS[d]}")
    torques = equations(text, r"τ_[xyz],n")
    for a in "xyz":
        expected = {}
        for d in model.offsets:
            for k, X in der.torque_derivative_form(a, d, "forward").items():
                expected[k] = expected.get(k, sp.zeros(gens.dim)) + sp.Matrix(X)
        assert_same(read_sum(torques[f"τ_{a},n"], gens, names), expected, gens.dim, f"τ_{a},n")
    return currents, torques


# ----------------------------------------------------------------------------- the paper's models
@functools.lru_cache(maxsize=None)
def rendered(name, fmt):
    return render_generic(fmt) if name == "generic" else render(name, fmt)


@pytest.fixture(scope="module")
def texts():
    return {name: rendered(name, "text") for name in BUILTINS}


def test_the_issue_example_reads_coefficient_first(texts):
    """The issue's line, now ``-(i (t + t')/2) c_n^† L_x c_n+e_x``: one scalar group, then the operators."""
    line = equations(texts["multiorbital"], r"j_[xyz],n,[xy]")["j_x,n,x"]
    assert line == "- (i (t + t')/2) c_n^† L_x c_n+e_x + h.c.", line


@pytest.mark.parametrize("name", BUILTINS)
def test_rendered_currents_and_torques_equal_the_derivation(name, texts):
    currents, torques = check_model_text(builtin_model(name), texts[name])
    assert currents and len(torques) == 3


def test_t_prime_equal_t_torques_equal_the_derivation(texts):
    model = builtin_model("multiorbital").subs(SYMBOLS["tp"], SYMBOLS["t"])
    der = derive(model)
    names = parameter_names(builtin_model("multiorbital"))
    lines = equations(texts["multiorbital"], r"τ_[xyz],n\|_t'=t")
    assert len(lines) == 3
    for a in "xyz":
        expected = {}
        for d in model.offsets:
            for k, X in der.torque_derivative_form(a, d, "forward").items():
                expected[k] = expected.get(k, sp.zeros(3)) + sp.Matrix(X)
        form = read_sum(lines[f"τ_{a},n|_t'=t"], der.generators, names)
        assert_same(form, expected, 3, f"τ_{a},n|t'=t")
        assert "- 2 (- " not in lines[f"τ_{a},n|_t'=t"]  # no double sign -2(-γ + t)


# a scalar right after a creation operator: a sign, a digit, the imaginary unit or a fraction
AFTER_DAGGER = {
    "text": re.compile(r"†\s*(?:[-+0-9]|i\b|\(i\b|\([0-9])"),
    "markdown": re.compile(r"\\dagger\}?(?:\\,|\s)*(?:[-+0-9]|i\b|\\t?frac)"),
}


@pytest.mark.parametrize("name, fmt", [(name, "text") for name in BUILTINS] + [("multiorbital", "markdown"), ("generic", "text"), ("generic", "markdown")])
def test_no_scalar_right_after_a_creation_operator(name, fmt):
    """Every document (model sections, the generic derivation, the Eq. (7) analysis), as text and as
    Markdown (whose equations are the LaTeX of ``--format latex``: same strings, other wrappers)."""
    text = rendered(name, fmt)
    bad = [text[max(0, m.start() - 30): m.end() + 30] for m in AFTER_DAGGER[fmt].finditer(text)]
    assert not bad, bad


def test_the_check_catches_the_old_rendering():
    """The pattern and the reader reject the pre-issue-22 form (guards the guards)."""
    old = "c_n^† - (i (t + t'))/(2) L_x c_n+e_x"
    assert AFTER_DAGGER["text"].search(old)
    assert AFTER_DAGGER["markdown"].search(r"j = c_n^\dagger\, - \frac{i \left(t + t'\right)}{2}\,\, \tilde{L}_x\, c_{n+e_x}")
    gens = builtin_model("multiorbital").generators
    with pytest.raises(AssertionError, match="coefficient between the operators"):
        read_sum(old, gens, parameter_names(builtin_model("multiorbital")))


def test_generic_equation_of_motion_has_scalars_in_front():
    """Eq. (8) for operator-valued hoppings: ``-i c_n^† J_α t_x c_n+e_x``, i.e. ``i`` before ``c^†``."""
    text = rendered("generic", "text")
    eom = next(line for line in text.splitlines() if line.strip().startswith("d/dt J_α,n = i[H, J_α,n] ="))
    rhs = eom.split("=", 2)[2]
    terms = split_terms(rhs)
    assert len(terms) == 9
    for sign, term in terms:
        assert re.fullmatch(r"i c_n(?:[+-]e_[xy])?\^† (?:J_α t_[xy](?:\^†)?|t_[xy](?:\^†)? J_α|\[ε,J_α\]) c_n(?:[+-]e_[xy])?", term), term
    # the signs of the derived Eq. (8): -i J t forward, +i t^† J back, +i t J from the left, -i J t^† to the left
    assert [s for s, _ in terms] == [-1, 1, 1, -1, -1, 1, 1, -1, 1]
    bond = next(line for line in text.splitlines() if line.strip().startswith("τ^bond_α,n,d ="))
    assert "i c_n^† ([t_d^†,J_α] + [t_d,J_α]) c_n" in bond and " - (i/2) c_n^† [t_d^†,J_α] (∂^-_d c_n)" in bond


# ----------------------------------------------------------------------------- random models
a_, b_ = sp.symbols("a b", real=True)
COEFFS = [0, 1, -1, 2, -2, sp.I, -sp.I, a_, -a_, a_ / 2, -a_ / 2, sp.I * b_, -sp.I * b_, a_ - b_, b_ - a_, sp.Rational(-1, 2)]
PAULI = [sp.eye(2), sp.Matrix([[0, 1], [1, 0]]), sp.Matrix([[0, -sp.I], [sp.I, 0]]), sp.Matrix([[1, 0], [0, -1]])]


def hopping(coeffs):
    return sum((c * m for c, m in zip(coeffs, PAULI)), sp.zeros(2))


@settings(max_examples=3, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate), suppress_health_check=[HealthCheck.too_slow])
@example(tx=[1, 0, 0, 0], ty=None)  # a bare identity current: "c^† 𝟙 c", not "c^† 1 c"
@example(tx=[-1, sp.I, 0, -a_ / 2], ty=[a_ - b_, 0, -sp.I * b_, 2])  # complex, non-Hermitian, signs everywhere
@given(tx=st.lists(st.sampled_from(COEFFS), min_size=4, max_size=4), ty=st.none())
def test_random_complex_hoppings_render_as_derived(tx, ty):
    """Complex, non-Hermitian 2x2 hoppings in the Pauli basis (random chains along x; two explicit
    square lattices): every current and torque of the text output, parsed back, equals the
    derivation; no scalar follows a creation operator."""
    hops = {"x": hopping(tx)} if ty is None else {"x": hopping(tx), "y": hopping(ty)}
    model = Model("random", pauli(), hops, sp.zeros(2))
    text = render(model, "text")
    assert not AFTER_DAGGER["text"].search(text)
    check_model_text(model, text)
