"""The verdict rules of the Fig 7 claims, on constructed results (no model runs): the four paths of the judge (the rule
holds or fails, its control passes or fails), the inconclusive case (every failing comparison's 95% CI still holds the
paper's effect), the calibration (which never decides), and the panels that did not run."""
import numpy as np
import pytest

from sparsadv.analysis.stats import paired_accuracy
from sparsadv.claims import Claim, Verdict
from sparsadv.experiments.universal import (CALIBRATION, CONTROL, CONTROL_MEANS, CONTROLS, FIG7_BASELINES, FIG7_EPS,
                                            FIG7_PANELS, fig7_claims, fig7_inconclusive, fig7_paper_effects)

N = 400
K = len(FIG7_EPS)
NONE, STRONG, TIE, ABOVE = (0, 0), (100, 0), (10, 10), (0, 20)   # (images it fools that the baseline leaves right, the reverse)


def _shift(base: np.ndarray, fools: int, spares: int) -> np.ndarray:
    "A correctness vector equal to `base` except on `fools` images base gets right (wrong here) and `spares` it gets wrong."
    out = base.copy()
    right, wrong = np.flatnonzero(base), np.flatnonzero(~base)
    out[right[:fools]] = False
    out[wrong[len(wrong) - spares:]] = True
    return out


def _per_eps(x):
    return list(x) if isinstance(x, list) else [x] * K


def _panel(da=STRONG, control=NONE, means=NONE, calibration=NONE, tuap=NONE, empty=(), panel='a',
           dataset=None, task=None):
    """A constructed Fig 7 panel on N images: every baseline gets the same half of the images right at every budget; the
    DA, each control line, the calibration (a second noise draw, for both claims) and the targeted UAP differ from it by
    (fooled, spared) images per budget (spared images: above noise)."""
    base = np.arange(N) < N // 2
    correct = {o: [base] * K for o in FIG7_BASELINES}
    correct['targeted UAP'] = [_shift(base, *t) for t in _per_eps(tuap)]
    for who, spec in (('class-pair DA', da), (CONTROL, control), (CONTROL_MEANS, means), (CALIBRATION, calibration)):
        correct[who] = [_shift(base, *t) for t in _per_eps(spec)]
    paired = {who: {o: [paired_accuracy(correct[who][k], correct[o][k]) for k in range(K)] for o in FIG7_BASELINES}
              for who in ('class-pair DA',) + CONTROLS + (CALIBRATION,)}
    paired['targeted UAP'] = {'noise': [paired_accuracy(correct['targeted UAP'][k], base) for k in range(K)]}
    acc = lambda vs: [float(v.mean()) for v in vs]
    fam = FIG7_PANELS[panel]['family']
    return dict(panel=panel, ran=True, family=fam, dataset=dataset or ('mnist5k' if panel == 'a' else 'cifar10'),
                task=dict(name=task or FIG7_PANELS[panel]['task'], paper=FIG7_PANELS[panel]['task']), n_eval=N,
                accuracy={o: acc(correct[o]) for o in ('class-pair DA',) + FIG7_BASELINES},
                controls={k: dict(accuracy=acc(correct[k]), max_norm=list(FIG7_EPS)) for k in CONTROLS},
                calibration=dict(name=CALIBRATION, accuracy=acc(correct[CALIBRATION]), max_norm=list(FIG7_EPS)),
                paired=paired, empty_baselines=list(empty))


def _claims(**panels):
    return fig7_claims(dict(figure='fig7', profile={'name': 'cpu'}, eps=list(FIG7_EPS), panels=panels))


def _da(panel='a', **kw):
    out = [c for c in _claims(**{panel: _panel(panel=panel, **kw)}) if c.figure == '7' + panel and 'Class-pair DA' in c.claim]
    assert len(out) == 1
    return out[0]


def _tuap(**kw):
    out = [c for c in _claims(b=_panel(panel='b', **kw)) if 'targeted UAP is weaker' in c.claim]
    assert len(out) == 1
    return out[0]


# ---------- the four paths of the DA claim, on both panels ----------

@pytest.mark.parametrize('panel', ['a', 'b'])
def test_holds_and_control_fails_reproduced(panel):
    c = _da(panel, da=STRONG, control=NONE, means=NONE)
    assert c.verdict is Verdict.REPRODUCED and c.evidence.holds and c.evidence.control_passes is False
    assert 'random dictionary' in c.control and 'class-mean difference' in c.control and c.control.endswith('it fails')
    assert 'below every baseline at 0 of 5 budgets' in c.control
    assert 'eps 10' in c.control and '[' in c.control                   # the control's values with their CIs
    assert 'second noise draw' in c.calibration and 'fails' in c.calibration and 'second noise draw' not in c.control
    assert Claim.from_dict(c.to_dict()).verdict is Verdict.REPRODUCED


@pytest.mark.parametrize('panel', ['a', 'b'])
def test_fails_and_control_fails_not_reproduced(panel):
    # the DA leaves more images right than the baselines at eps 1: the CI lies above 0, away from the paper's negative gap
    c = _da(panel, da=[ABOVE] + [STRONG] * (K - 1))
    assert c.verdict is Verdict.NOT_REPRODUCED and not c.evidence.holds and not c.evidence.paper_in_ci
    assert 'inconclusive' not in c.note
    # no effect at all at every budget: the CI [0, 0] excludes the paper's gaps
    assert _da(panel, da=NONE).verdict is Verdict.NOT_REPRODUCED


@pytest.mark.parametrize('line', ['control', 'means'])
def test_fails_while_control_passes_not_reproduced(line):
    c = _da(da=[ABOVE] + [STRONG] * (K - 1), **{line: STRONG})
    assert c.evidence.control_passes is True and c.verdict is Verdict.NOT_REPRODUCED   # a passing control never rescues a failing rule


@pytest.mark.parametrize('line, which', [('control', 'random dictionary'), ('means', 'class-mean difference')])
def test_passes_while_control_passes_not_evidence(line, which):
    c = _da(da=STRONG, **{line: STRONG})
    assert c.evidence.holds and c.evidence.control_passes and c.verdict is Verdict.NOT_EVIDENCE
    assert c.control.endswith('it passes')
    first, second = c.control.split('Second line')                # the line of that control passes, the other fails
    part, other = (first, second) if line == 'control' else (second, first)
    assert which in part and 'same rule: passes (below every baseline at 5 of 5 budgets)' in part
    assert 'same rule: fails (below every baseline at 0 of 5 budgets)' in other


def test_control_must_pass_at_every_budget():
    # a control below every baseline at 4 of 5 budgets fails the rule: the DA's verdict stands
    c = _da(da=STRONG, control=[NONE] + [STRONG] * (K - 1))
    assert c.evidence.control_passes is False and c.verdict is Verdict.REPRODUCED and 'at 4 of 5 budgets' in c.control


def test_calibration_passing_never_decides():
    c = _da(da=STRONG, calibration=STRONG)
    assert c.verdict is Verdict.REPRODUCED and c.evidence.control_passes is False
    assert 'passes' in c.calibration and 'calibration passes' in c.note


# ---------- inconclusive ----------

@pytest.mark.parametrize('panel', ['a', 'b'])
def test_inconclusive_when_every_failing_ci_holds_the_paper_effect(panel):
    # at eps 1 the DA ties the baselines: the CI (about +-0.02) holds the paper's gap there (-0.004 to -0.013)
    c = _da(panel, da=[TIE] + [STRONG] * (K - 1))
    assert c.verdict is Verdict.INCONCLUSIVE and c.evidence.paper_in_ci and not c.evidence.holds
    r = _panel(panel=panel, da=[TIE] + [STRONG] * (K - 1))
    eff = fig7_paper_effects(FIG7_PANELS[panel]['family'], 'lowest')
    inc, need = fig7_inconclusive(r['paired']['class-pair DA'], eff, [(o, 0) for o in FIG7_BASELINES], -1, N)
    assert inc and len(need) == 3
    q = r['paired']['class-pair DA'][need[0][1]][0]
    expect = int(np.ceil(N * ((q['hi'] - q['lo']) / 2 / abs(eff[need[0][1]][0])) ** 2))
    assert need[0][0] == expect > N and f"about {expect} images (here {N})" in c.note and 'approximation' in c.note
    assert c.note.startswith('inconclusive')
    # the paper's effect at every budget is in the row
    assert all(f"eps {e:g}:" in c.paper for e in FIG7_EPS) and f"{eff['UAP'][0]:+.3f}" in c.paper


def test_inconclusive_needs_every_failing_comparison():
    # a tie at eps 1 (CI holds the paper's gap) and at eps 10 (CI excludes the paper's -0.43): not reproduced
    c = _da(da=[TIE] + [STRONG] * (K - 2) + [TIE])
    assert c.verdict is Verdict.NOT_REPRODUCED and not c.evidence.paper_in_ci
    # a passing control does not turn an inconclusive rule into anything else
    assert _da(da=[TIE] + [STRONG] * (K - 1), control=STRONG).verdict is Verdict.INCONCLUSIVE


def test_inconclusive_requires_the_paper_effect_inside_and_of_the_claimed_sign():
    q = dict(lo=-0.02, hi=0.02)
    pairs = {'UAP': [q]}
    assert fig7_inconclusive(pairs, {'UAP': [-0.01]}, [('UAP', 0)], -1, 100)[0]
    assert not fig7_inconclusive(pairs, {'UAP': [-0.03]}, [('UAP', 0)], -1, 100)[0]   # outside the CI
    assert not fig7_inconclusive(pairs, {'UAP': [0.01]}, [('UAP', 0)], -1, 100)[0]    # the paper's own sign is against the claim
    assert fig7_inconclusive(pairs, {'UAP': [-0.01]}, [], -1, 100) == (False, [])     # nothing fails
    assert fig7_inconclusive(pairs, {'UAP': [-0.01]}, [('UAP', 0)], -1, 100)[1] == [(400, 'UAP', 0)]


# ---------- the rule, data and margin texts ----------

def test_rule_states_the_family_decision_and_rows_name_the_data():
    c = _da(da=STRONG)
    assert '3 baselines x 5 budgets = 15 comparisons' in c.rule and 'no multiplicity correction' in c.rule
    assert c.data == f"mnist5k ({N} test images), task network resnet18; the paper: MNIST, resnet18"
    assert c.margin == ''   # a plain significance rule: no margin
    b = _da('b', da=STRONG, task='smallcnn')
    assert b.data.startswith(f"cifar10 ({N} test images), task network smallcnn; the paper: CIFAR-10, wrn28_10")
    same = _da('b', da=STRONG)
    assert same.data.startswith('as the paper: CIFAR-10, wrn28_10')
    # an empty baseline is left out of the rule and named
    e = _da(da=STRONG, empty=('targeted UAP',))
    assert 'targeted UAP' not in e.rule and '2 baselines x 5 budgets' in e.rule and 'not tested against targeted UAP' in e.note
    assert e.verdict is Verdict.REPRODUCED


# ---------- the targeted-UAP claim of panel b ----------

def test_tuap_claim_paths():
    spare = (0, 100)
    holds = _tuap(tuap=spare)
    assert holds.verdict is Verdict.REPRODUCED and holds.evidence.control_passes is None
    assert holds.control.startswith('none applies:') and 'second noise draw' in holds.calibration
    assert _tuap(tuap=NONE).verdict is Verdict.NOT_REPRODUCED                           # CI [0, 0]: excludes +0.008
    assert _tuap(tuap=[TIE] + [spare] * (K - 1)).verdict is Verdict.INCONCLUSIVE       # CI +-0.02 holds +0.008
    cal = _tuap(tuap=spare, calibration=spare)
    assert cal.verdict is Verdict.REPRODUCED and 'calibration passes' in cal.note   # a calibration never decides
    assert _tuap(tuap=spare, empty=('targeted UAP',)).verdict is Verdict.NOT_TESTED


# ---------- panels that did not run ----------

def test_panel_not_run_not_tested():
    cs = _claims(a=_panel(da=STRONG), b=dict(panel='b', ran=False, family='cifar10', dataset='cifar10', reason='no files'))
    assert [c.figure for c in cs] == ['7a', '7b', '7b']
    assert cs[0].verdict is Verdict.REPRODUCED
    assert all(c.verdict is Verdict.NOT_TESTED and 'no files' in c.note and c.measured == 'not run' for c in cs[1:])
    assert all('CIFAR-10' in c.data and "the paper's DA minus" in c.paper or "targeted UAP minus" in c.paper for c in cs[1:])
    only_a = _claims(a=_panel(da=STRONG))
    assert all(c.verdict is Verdict.NOT_TESTED and 'not asked for' in c.note for c in only_a if c.figure == '7b')


def test_results_without_the_control_are_refused():
    r = _panel(da=STRONG)
    del r['controls']
    with pytest.raises(ValueError, match='run the figure again'): _claims(a=r)
