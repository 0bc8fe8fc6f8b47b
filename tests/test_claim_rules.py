"""The verdict rules of the Fig 1, 5 and 6 claims, on constructed results. Every claim with a control is checked on
the judge's four paths: the rule holds (reproduced); fails (not reproduced); fails while the control passes (still not
reproduced: a control never rescues or hides a failing rule); passes while the control passes (not evidence)."""
import numpy as np
import pytest

from sparsadv.analysis.stats import ttest, mean_ci, ratio_of_means_ci
from sparsadv.claims import Verdict
from sparsadv.experiments.synthetic import fig1_claims
from sparsadv.experiments.dict_attack import fig5_claims, fig6_claims, _fig5_compare

CODERS = ('LISTA', 'OMP (tolerance)', 'OMP (fixed sparsity)', 'LASSO (beta = 0.025)', 'LASSO (beta = 0.0125)')
PROFILE = dict(name='cpu', m=100, n=200, s=20, n_test=400, lista_layers=16, lista_steps=12000, lista_batch=256)
R, NR, NE, INC, NT = (Verdict.REPRODUCED, Verdict.NOT_REPRODUCED, Verdict.NOT_EVIDENCE, Verdict.INCONCLUSIVE,
                      Verdict.NOT_TESTED)
ci = lambda d: dict(zip(('diff', 'lo', 'hi'), mean_ci(d)))


def _fig1(gain, ctl_gain=None, n=400, seed=0, fixed_gap=0.0, low_beta_worse=0.02, low_gain=0.01):
    """A Fig 1 result built from per-signal errors: PGD = noise + gain (+ low_gain at the low beta); the control (PGD made
    on another dictionary's LISTA) = its noise + ctl_gain (None: an independent draw); the calibration a second draw."""
    rng = np.random.default_rng(seed)
    split, tests, control, calibration, tot = {}, {}, {}, {}, {}
    for name in CODERS:
        low = '0.0125' in name
        base = (0.02 if 'fixed' in name else 0.1) + (low_beta_worse if low else 0.0)
        clean = rng.normal(base, 0.02, n)
        draw = lambda: clean + 0.03 + (low_beta_worse if low else 0.0) + rng.normal(0, 0.02, n)
        noise, second, noise_o = draw(), draw(), draw()
        g = gain + (low_gain if low else 0.0)
        pgd = noise + fixed_gap if 'fixed' in name else noise + g + rng.normal(0, 0.005, n)
        ctl = draw() if ctl_gain is None else noise_o + ctl_gain + (low_gain if low else 0.0) + rng.normal(0, 0.005, n)
        split[name] = {c: {'total': float(v.mean())} for c, v in (('clean', clean), ('noise', noise), ('pgd', pgd))}
        tests[name], control[name], calibration[name] = ttest(pgd, noise), ttest(ctl, noise_o), ttest(second, noise)
        tot[name] = dict(clean=clean, noise=noise, pgd=pgd, second=second, ctl=ctl, noise_o=noise_o)
    hi, lo = tot[CODERS[3]], tot[CODERS[4]]
    sens = dict(ci((lo['pgd'] - lo['noise']) - (hi['pgd'] - hi['noise'])), gap_low=float((lo['pgd'] - lo['noise']).mean()),
                gap_high=float((hi['pgd'] - hi['noise']).mean()),
                control=ci((lo['ctl'] - lo['noise_o']) - (hi['ctl'] - hi['noise_o'])),
                calibration=ci((lo['second'] - lo['noise']) - (hi['second'] - hi['noise'])))
    robust = {c: ci((lo[c] - lo['clean']) - (hi[c] - hi['clean'])) for c in ('pgd', 'noise')}
    paired = dict(tol_over_fixed=ratio_of_means_ci(tot[CODERS[1]]['pgd'], tot[CODERS[2]]['pgd']),
                  low_minus_high={c: ci(lo[c] - hi[c]) for c in ('clean', 'noise', 'pgd')})
    sweep = [dict(label='l2, eps = 0.3 (main text)', tests=tests, control=control, calibration=calibration)]
    return dict(figure='fig1', profile=PROFILE, split=split, tests=tests, control=control, calibration=calibration,
                sensitivity=sens, robustness=robust, paired=paired, sweep=sweep, lista={'test_nmse_db': -31.0},
                control_lista={'test_nmse_db': -31.0})


def _by_claim(r):
    return {c.claim: c.verdict for c in fig1_claims(r)}


CONTROLLED_1 = ['On LISTA, PGD gives a larger code error than equal-norm noise',
                'Transferred to OMP with a residual tolerance, PGD beats noise',
                'Transferred to LASSO (both betas), PGD beats noise',
                'With other budgets (l2 eps = 0.5, l_inf eps = 0.05) the results are very similar']


@pytest.mark.parametrize('gain, ctl_gain, expected', [(0.05, None, R), (-0.01, None, NR), (-0.01, 0.05, NR), (0.05, 0.05, NE)],
                         ids=['holds', 'fails', 'fails-control-passes', 'passes-control-passes'])
def test_fig1_four_paths(gain, ctl_gain, expected):
    v = _by_claim(_fig1(gain, ctl_gain))
    assert [v[k] for k in CONTROLLED_1] == [expected] * 4


def test_fig1_sensitivity_four_paths():
    key = 'The lower beta is more sensitive to PGD than to noise'
    assert _by_claim(_fig1(0.05, None, low_gain=0.02))[key] is R
    assert _by_claim(_fig1(0.05, None, low_gain=-0.02))[key] is NR
    assert _by_claim(_fig1(0.05, 0.05, low_gain=-0.02))[key] is NR      # the control's own low-beta gap passes: still NR
    assert _by_claim(_fig1(0.05, 0.05, low_gain=0.02))[key] is NE


def test_fig1_calibration_is_not_a_control():
    "A calibration draw that passes the rule (a broken test) shows in its line but does not change the verdict."
    r = _fig1(0.05, None)
    for name in r['calibration']: r['calibration'][name] = r['tests'][name]
    c = [c for c in fig1_claims(r) if c.claim == CONTROLLED_1[0]][0]
    assert c.verdict is R and c.calibration.endswith('passes the rule')


def test_fig1_inconclusive_when_the_ci_still_holds_the_effect():
    "Too few signals to tell: a tiny positive gap whose CI straddles 0 is inconclusive, a negative one not reproduced."
    v_small = _by_claim(_fig1(0.001, None, n=20, seed=3))[CONTROLLED_1[0]]
    v_neg = _by_claim(_fig1(-0.05, None, n=20))[CONTROLLED_1[0]]
    assert v_small is INC and v_neg is NR


def test_fig1_equivalence_margin_is_relative_to_the_noise_error():
    "Fixed sparsity: the noise error there is about 0.05, so the margin is about +-0.005 (10%)."
    key = 'Under OMP with fixed sparsity, PGD is indistinguishable from noise'
    assert _by_claim(_fig1(0.05, None, fixed_gap=0.0, n=4000))[key] is R
    far = fig1_claims(_fig1(0.05, None, fixed_gap=-0.02))
    row = [c for c in far if c.claim == key][0]
    assert row.verdict is NR and 'WEAKER' in row.note          # the sign said in words
    assert [c for c in fig1_claims(_fig1(0.05, None, fixed_gap=0.02)) if c.claim == key][0].note.count('STRONGER') == 1


def test_fig1_much_lower_minimum_effect():
    key = 'OMP with fixed sparsity has a much lower error under PGD than OMP with a tolerance'
    assert _by_claim(_fig1(0.05, None))[key] is R                           # about 0.23 / 0.05: far above 2
    r = _fig1(0.05, None, fixed_gap=0.09)                                   # fixed-sparsity PGD error about 0.14: ratio < 2
    assert _by_claim(r)[key] is NR


def test_fig1_less_robust_is_decided_on_the_total():
    key = 'The lower beta is less robust to both PGD and noise (a higher code error)'
    assert _by_claim(_fig1(0.05, None, low_beta_worse=0.02))[key] is R
    worse_inc_only = _fig1(0.05, None, low_beta_worse=-0.03, low_gain=0.06)  # lower total under noise, larger PGD increase
    row = [c for c in fig1_claims(worse_inc_only) if c.claim == key][0]
    assert row.verdict is NR and 'LOWER total error' in row.note


def test_fig1_recorded_run_without_the_control():
    "A run from before the control: its old 'control' (a second draw) is read as the calibration; no control is claimed."
    r = _fig1(0.05, None)
    r['control'] = r.pop('calibration'); r.pop('control_lista'); r.pop('paired')
    r['sweep'] = [dict(label='x', tests=r['tests'], control=r['control'])]
    r['sensitivity']['control'] = r['sensitivity'].pop('calibration')
    claims = fig1_claims(r)
    row = [c for c in claims if c.claim == CONTROLLED_1[0]][0]
    assert row.verdict is R and row.control.startswith('not measured') and 'second noise draw' in row.calibration
    assert [c.verdict for c in claims if 'much lower' in c.claim] == [NT]


def _fig5(count_shift, energy_shift, size_shift, n=300, seed=0, control_shift=0.0):
    """A Fig 5 result from per-perturbation code statistics: PGD shifted from noise by the given amounts; the control
    (another dictionary's PGD against its noise) shifted by control_shift (0: noise against noise)."""
    rng = np.random.default_rng(seed)
    def draw(dc, de, ds):
        count = rng.poisson(20, n).astype(float) + dc + rng.normal(0, 1, n)
        return dict(count=count, energy=rng.gamma(20, 0.04, n) + de, mean_abs=rng.gamma(10, 0.01, n) + ds)
    noise, pgd = draw(0, 0, 0), draw(count_shift, energy_shift, size_shift)
    ctl, ctl_noise, second = draw(control_shift * 5, control_shift * 0.3, control_shift * 0.02), draw(0, 0, 0), draw(0, 0, 0)
    t = _fig5_compare(pgd, noise)
    return dict(figure='fig5', profile=PROFILE, beta=0.0125, tests=t, control=_fig5_compare(ctl, ctl_noise),
                calibration=_fig5_compare(second, noise), lista={'test_nmse_db': -31.0}, control_lista={},
                energy_ratio=float(pgd['energy'].mean() / noise['energy'].mean()))


@pytest.mark.parametrize('shift, ctl, expected', [(1, 0, R), (-1, 0, NR), (-1, 1, NR), (1, 1, NE)],
                         ids=['holds', 'fails', 'fails-control-passes', 'passes-control-passes'])
def test_fig5_four_paths(shift, ctl, expected):
    v = [c.verdict for c in fig5_claims(_fig5(5.0 * shift, 0.3 * shift, 0.02 * shift, control_shift=ctl))]
    assert v == [expected, expected]


def test_fig5_energy_inconclusive_when_the_ratio_ci_holds_the_paper():
    "A ratio CI that still holds the paper's x1.25 but a t-test that cannot tell (a tiny sample) is inconclusive."
    rng = np.random.default_rng(0)
    n = 3
    noise = dict(count=np.array([20.0, 21.0, 19.0]), energy=np.array([0.5, 1.5, 1.0]), mean_abs=rng.gamma(10, 0.01, n))
    pgd = dict(count=np.array([20.0, 19.0, 21.0]), energy=np.array([0.6, 1.9, 1.2]), mean_abs=rng.gamma(10, 0.01, n))
    r = _fig5(0, 0, 0)
    r['tests'] = _fig5_compare(pgd, noise)
    e = r['tests']['energy_ratio']
    assert e['lo'] <= 1.25 <= e['hi'] and r['tests']['energy']['p'] > 0.01
    assert fig5_claims(r)[1].verdict is INC


FIG6_CODERS = ('LISTA 1 (attacked)', 'LISTA 2', 'OMP (tolerance)', 'LASSO (tolerance)')


def _fig6(da_gain, drop, n=400, seed=0, other_gain=None, noise_drop=0.0, net2_da=1.0):
    """A Fig 6 result from per-signal errors: DA = PGD + da_gain on every coder (x net2_da on net 2); PGD on net 2 is
    `drop` weaker than on net 1; the control (another dictionary's DA) = PGD + other_gain (None: noise again)."""
    rng = np.random.default_rng(seed)
    clean = {c: rng.gamma(4, 0.01, n) for c in FIG6_CODERS}
    noise = {c: clean[c] + 0.05 + rng.normal(0, 0.01, n) for c in FIG6_CODERS}
    pgd = {c: noise[c] + 0.2 + rng.normal(0, 0.02, n) for c in FIG6_CODERS}
    n1, n2 = FIG6_CODERS[:2]
    pgd[n2] = pgd[n1] * (1 - drop) + rng.normal(0, 0.005, n)
    clean[n2], noise[n2] = clean[n1] + rng.normal(0, 0.001, n), noise[n1] * (1 - noise_drop) + rng.normal(0, 0.005, n)
    da = {c: pgd[n1 if c == n2 else c] + da_gain + rng.normal(0, 0.02, n) for c in FIG6_CODERS}
    da[n2] = da[n1] * net2_da + rng.normal(0, 0.005, n)
    oth = {c: (pgd[n1 if c == n2 else c] + other_gain if other_gain is not None else noise[c]) + rng.normal(0, 0.01, n)
           for c in FIG6_CODERS}
    oth[n2] = oth[n1] + rng.normal(0, 0.005, n)
    rnd = {c: noise[c] + rng.normal(0, 0.01, n) for c in FIG6_CODERS}
    tests = {c: dict(da_vs_pgd=ttest(da[c], pgd[c]), da_vs_pgd_ce=ttest(da[c], pgd[c]), da_vs_noise=ttest(da[c], noise[c]),
                     da_other_vs_pgd=ttest(oth[c], pgd[c]), da_other_vs_noise=ttest(oth[c], noise[c]),
                     random_vs_pgd=ttest(rnd[c], pgd[c]), random_vs_noise=ttest(rnd[c], noise[c])) for c in FIG6_CODERS}
    split = {c: {k: {'total': float(v[c].mean())} for k, v in (('clean', clean), ('noise', noise), ('pgd', pgd),
                                                               ('pgd-ce', pgd), ('da', da), ('da-other', oth),
                                                               ('random', rnd))} for c in FIG6_CODERS}
    nets = dict(da_ratio=ratio_of_means_ci(da[n2], da[n1]), random_ratio=ratio_of_means_ci(rnd[n2], rnd[n1]),
                da_other_ratio=ratio_of_means_ci(oth[n2], oth[n1]),
                pgd_ratio=ratio_of_means_ci(pgd[n2], pgd[n1]),
                pgd_inc_ratio=ratio_of_means_ci(pgd[n2] - clean[n2], pgd[n1] - clean[n1]),
                noise_ratio=ratio_of_means_ci(noise[n2], noise[n1]),
                noise_inc_ratio=ratio_of_means_ci(noise[n2] - clean[n2], noise[n1] - clean[n1]))
    return dict(figure='fig6', profile=PROFILE, split=split, tests=tests, nets=nets,
                lista=[{'test_nmse_db': -31.0}, {'test_nmse_db': -31.0}])


def _v6(r):
    return [c.verdict for c in fig6_claims(r)]


def test_fig6_four_paths_dict_attack_rows():
    "Rows 1 and 3 (DA highest on both nets; DA beats PGD on OMP and LASSO), whose control is another dictionary's DA."
    assert [_v6(_fig6(0.1, 0.2))[k] for k in (0, 2)] == [R, R]
    assert [_v6(_fig6(-0.1, 0.2))[k] for k in (0, 2)] == [NR, NR]
    assert [_v6(_fig6(-0.1, 0.2, other_gain=0.3))[k] for k in (0, 2)] == [NR, NR]
    assert [_v6(_fig6(0.1, 0.2, other_gain=0.3))[k] for k in (0, 2)] == [NE, NE]


def test_fig6_four_paths_drop_row():
    "Row 2 (PGD about 20% weaker on net 2), whose control is noise made without either net."
    assert _v6(_fig6(0.1, 0.2))[1] is R
    assert _v6(_fig6(0.1, 0.6))[1] is NR                        # a 60% drop: its CI excludes 20%
    assert _v6(_fig6(0.1, 0.6, noise_drop=0.2))[1] is NR        # the control passes, the rule still fails
    assert _v6(_fig6(0.1, 0.2, noise_drop=0.2))[1] is NE


def test_fig6_about_equally():
    "About equally: a DA 25% weaker on net 2 fails the first rule only."
    assert _v6(_fig6(0.1, 0.2, net2_da=0.75)) == [NR, R, R]
