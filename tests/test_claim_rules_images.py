"""The verdict rules of the Fig 2, 3 and 4 claims, on constructed results (no model runs). For each figure the judge's
four paths: the rule holds (reproduced), fails (not reproduced), fails while its control passes (still not reproduced)
and passes while its control passes (not evidence); and where they apply, a 95% CI that still holds the paper's effect
(inconclusive), readings that disagree (depends on the reading) and a rule that could not be applied (not tested)."""
import numpy as np
import pytest
import torch

from sparsadv.analysis.stats import paired_ratio
from sparsadv.claims import Claim, Threshold
from sparsadv.experiments.images import (AA_MARGIN, EQ_MARGIN, FIG2_MIN_RATIO, MIN_PAIRED, _cond_stats, _paired_sd,
                                         _sd_compare, fig2_claims, fig3_claims, fig4_claims)

RNG = lambda seed: np.random.default_rng(seed)
V = lambda c: c.verdict.value
BASELINES = ('l_inf-matched noise', 'l2-matched noise', 'random signs')


# ---------- Fig 2: paired ratios over the images PGD fooled ----------

def _fig2(pgd_gain=1.6, control_gain=1.0, near=(1.5, 1.0), aa=None, n=40, scatter=0.05, seed=0, models=True):
    """A run_fig2 result from per-image mean |dz| of a baseline: PGD = baseline x pgd_gain (a number, or one per baseline),
    the random-sign draw in place of PGD = baseline x control_gain, each with its own per-image scatter; near: (PGD,
    random-sign) gains of the near-zero share over l2-matched noise; aa: (AutoAttack gain over PGD, random-sign gain over
    PGD) or None."""
    rng = RNG(seed)
    gains = pgd_gain if isinstance(pgd_gain, dict) else dict.fromkeys(BASELINES, pgd_gain)
    base = rng.gamma(20, 0.01, n)
    comp = {ref: {'PGD': paired_ratio(base * gains[ref] * rng.lognormal(0, scatter, n), base),
                  'random signs (control)': paired_ratio(base * control_gain * rng.lognormal(0, scatter, n), base)}
            for ref in BASELINES}
    share = base / base.max()
    ns = {who: paired_ratio(share * g * rng.lognormal(0, 0.05, n), share) for who, g in zip(('PGD', 'random signs (control)'), near)}
    im = dict(eps=8 / 255, n_images=n + 10, n_success=n, n_used=n, used='fooled', reason='', comparisons=comp, near_share=ns,
              mean_near_share={'PGD': 0.1, 'l2-matched noise': 0.08})
    if aa is not None:
        a_gain, s_gain = aa
        pg = rng.gamma(20, 0.01, n)
        im['autoattack'] = dict(n_run=n, n_run_pgd_fooled=n, n_fooled=n, n_both=n, settings={}, margin=AA_MARGIN.value,
                                linf_max=0.03, reason='',
                                ratio=paired_ratio(pg * a_gain * rng.lognormal(0, 0.03, n), pg),
                                control=paired_ratio(pg * s_gain * rng.lognormal(0, 0.03, n), pg))
    info = dict(classifier=dict(name='smallcnn', dataset='mnist5k'), convlista=dict(filters=16)) if models else None
    return dict(figure='fig2', profile={'name': 'cpu'}, attacks={}, tests={}, near_zero_frac=0.9, near_zero_rel=0.01,
                images=im, models=info)


def _row(claims, word):
    rows = [c for c in claims if word in c.claim]
    assert len(rows) == 1, [c.claim for c in claims]
    return rows[0]


def test_thresholds_are_named_with_reasons():
    for t in (FIG2_MIN_RATIO, AA_MARGIN, EQ_MARGIN):
        assert isinstance(t, Threshold) and t.reason
    assert AA_MARGIN.value <= FIG2_MIN_RATIO.value   # the equivalence margin is no wider than 'far more'


def test_fig2_family_holds_fails_and_minimum_effect():
    far = _row(fig2_claims(_fig2(1.6)), 'far more')
    assert V(far) == 'reproduced'
    assert f'FIG2_MIN_RATIO = {FIG2_MIN_RATIO.value:g}' in far.margin and FIG2_MIN_RATIO.reason in far.margin
    assert all(b in far.rule for b in ('l_inf-matched', 'l2-matched', 'random signs')) and 'all three' in far.rule
    assert all(b in far.measured for b in BASELINES)
    assert V(_row(fig2_claims(_fig2(0.9)), 'far more')) == 'not reproduced'
    # a ratio clearly above 1 but below the minimum effect (as x1.024 [1.005, 1.042]): not 'far more'
    small = _row(fig2_claims(_fig2(1.03, scatter=0.02)), 'far more')
    assert V(small) == 'not reproduced'
    # the family: one baseline short of the minimum decides it
    one = _row(fig2_claims(_fig2({'l_inf-matched noise': 1.6, 'l2-matched noise': 1.6, 'random signs': 1.0})), 'far more')
    assert V(one) == 'not reproduced' and 'random signs' in one.note


def test_fig2_family_inconclusive_when_the_ci_still_reaches_the_minimum():
    c = _row(fig2_claims(_fig2(1.25, n=6, scatter=0.4, seed=1)), 'far more')
    assert V(c) == 'inconclusive' and 'too few images' in c.note


def test_fig2_family_control_and_calibration():
    "The family's random-sign baseline is the model-free perturbation: no separate control; a second draw calibrates."
    c = _row(fig2_claims(_fig2(1.6, control_gain=1.6)), 'far more')
    assert c.control.startswith('none applies') and c.evidence.control_passes is None
    assert 'second random-sign draw' in c.calibration and 'passes the rule' in c.calibration
    assert V(c) == 'reproduced'   # a calibration never decides


@pytest.mark.parametrize('seed', range(3))
def test_fig2_random_signs_in_place_of_pgd_fail(seed):
    "A second random-sign draw in place of PGD (gain 1 over the same baselines) fails the family's rule."
    assert V(_row(fig2_claims(_fig2(1.0, seed=seed)), 'far more')) in ('not reproduced', 'inconclusive')
    assert V(_row(fig2_claims(_fig2(1.0, seed=seed)), 'far more')) != 'reproduced'


@pytest.mark.parametrize('near,verdict', [((1.5, 1.0), 'reproduced'), ((0.8, 1.0), 'not reproduced'),
                                          ((0.8, 1.5), 'not reproduced'), ((1.5, 1.5), 'not evidence')])
def test_fig2_near_zero_four_paths(near, verdict):
    c = _row(fig2_claims(_fig2(near=near)), 'near-zero')
    assert V(c) == verdict
    assert ('passes the rule' if near[1] > 1 else 'fails the rule') in c.control


@pytest.mark.parametrize('aa,verdict', [((1.02, 2.0), 'reproduced'), ((1.6, 2.0), 'not reproduced'),
                                        ((1.6, 0.99), 'not reproduced'), ((1.02, 0.99), 'not evidence')])
def test_fig2_autoattack_four_paths(aa, verdict):
    c = _row(fig2_claims(_fig2(aa=aa)), 'barely matters')
    assert V(c) == verdict and f'AA_MARGIN = {AA_MARGIN.value:g}' in c.margin
    assert f'{AA_MARGIN.value:g}]' in c.rule


def test_fig2_autoattack_inconclusive():
    "A ratio whose CI straddles the margin's edge: equivalence neither shown nor excluded."
    r = _fig2(aa=(1.0, 2.0))
    r['images']['autoattack']['ratio'] = dict(ratio=1.2, lo=1.05, hi=1.4, n=6, p=0.01, holds=True, below=False)
    assert V(_row(fig2_claims(r), 'barely matters')) == 'inconclusive'


def test_fig2_too_few_fooled_not_tested():
    r = _fig2(aa=(1.0, 2.0))
    r['images'].update(comparisons=None, near_share=None, n_success=3, used='all',
                       reason=f'PGD fooled 3 of the 50 images; a paired ratio over fooled images needs at least {MIN_PAIRED}')
    r['images']['autoattack'].update(ratio=None, control=None, n_fooled=MIN_PAIRED - 1, reason='AutoAttack fooled 4 of 16')
    claims = fig2_claims(r)
    for word, why in (('far more', 'fooled 3'), ('near-zero', 'fooled 3'), ('barely matters', 'fooled 4')):
        c = _row(claims, word)
        assert V(c) == 'not tested' and why in c.note and c.control


def test_fig2_both_budgets_and_data():
    r = _fig2()
    r['images_mnist_budget'] = dict(_fig2(1.0)['images'], eps=0.3)
    claims = fig2_claims(r)
    far = [c for c in claims if 'far more' in c.claim]
    assert [V(c) for c in far] == ['reproduced', 'not reproduced']
    assert '8/255' in far[0].claim and '0.3' in far[1].claim and "MNIST's standard budget" in far[1].claim
    assert all('MNIST-5k, small CNN, ConvLISTA 16 filters; the paper: CIFAR-10, WRN-28-10, ConvLISTA 64 filters' == c.data
               for c in claims)
    # the claims survive their JSON form, verdicts judged again
    assert [Claim.from_dict(c.to_dict()).verdict for c in claims] == [c.verdict for c in claims]


# ---------- Fig 3 and 4: sd rules with jackknife CIs, condition-number orders, equivalence ----------

G, N = 60, 3000


def _S(rng, affinity=None, jitter=0.1):
    "Group sums (G, N): per-atom affinity (1 = every atom alike, as for isotropic noise) times per-group scatter."
    a = np.ones(N) if affinity is None else affinity
    return torch.from_numpy(a * (1 + jitter * rng.standard_normal((G, N))).clip(0.01))


def _block(pgd, clipped_affinity, cond, control_cond, seed=0):
    """A dictionary block of run_fig3 from PGD's group sums, the per-atom affinity of clipped noise (None: every atom
    alike) and constructed condition numbers; every noise set is an independent draw."""
    rng = RNG(seed + 100)
    S = {'pgd': pgd, 'noise': _S(rng), 'noise (second draw)': _S(rng), 'clipped noise': _S(rng, clipped_affinity),
         'clipped noise (second draw)': _S(rng, clipped_affinity)}
    corr = {k: (v.sum(0) / v.sum()).numpy() for k, v in S.items()}
    pairs = {'PGD / noise': ('pgd', 'noise'), 'second noise draw / noise': ('noise (second draw)', 'noise'),
             'clipped noise / noise': ('clipped noise', 'noise'), 'PGD / clipped noise': ('pgd', 'clipped noise'),
             'second clipped draw / clipped noise': ('clipped noise (second draw)', 'clipped noise')}
    comps = {k: _sd_compare(S[a], S[b]) for k, (a, b) in pairs.items()}
    return dict(n_atoms=N, uniform=1 / N, summary={k: dict(max=float(v.max())) for k, v in corr.items()},
                levene=comps['PGD / noise']['levene'], comparisons=comps,
                spectra=_cond_stats(cond, seed, 'spectra'), control_spectra=_cond_stats(control_cond, seed, 'control'))


def _conds(rng, top, bottom, random, sd=0.05):
    "50 condition numbers per group: the same normal quantiles shifted to each group's median, then shuffled."
    from scipy.stats import norm
    z = norm.ppf((np.arange(50) + 0.5) / 50)
    return {k: rng.permutation(m * (1 + sd * z)) for k, m in (('top', top), ('bottom', bottom), ('random', random))}


def _fig3(pgd_kind='wide', clipped_kind='flat', order=(4.0, 3.0, 1.5), control_order=(2.0, 2.0, 2.0),
          gauss_pgd='narrow', gauss_order=(1.43, 1.43, 1.43), seed=0):
    """gauss_pgd / gauss_order: one for both readings of the Gaussian dictionary, or a pair (random conv filters,
    dense); the random conv filters' block is also Fig 3a's dictionary control."""
    rng = RNG(seed)
    kinds = {'wide': lambda: _S(rng, rng.lognormal(0, 0.3, N)), 'flat': lambda: _S(rng),
             'narrow': lambda: _S(rng, jitter=0.04)}
    affinity = {'flat': None, 'wide': rng.lognormal(0, 0.3, N)}
    dicts = {'convlista': _block(kinds[pgd_kind](), affinity[clipped_kind], _conds(rng, *order), _conds(rng, *control_order), seed)}
    gp = gauss_pgd if isinstance(gauss_pgd, tuple) else (gauss_pgd, gauss_pgd)
    go = gauss_order if isinstance(gauss_order[0], tuple) else (gauss_order, gauss_order)
    for key, kind, o in zip(('gaussian', 'gaussian_dense'), gp, go):
        dicts[key] = _block(kinds[kind](), None, _conds(rng, *o, sd=0.01), _conds(rng, 2, 2, 2), seed)
    return dict(figure='fig3', profile={'name': 'cpu'}, dictionaries=dicts, n_perturbations=200,
                models=dict(classifier=dict(name='smallcnn', dataset='mnist5k'), convlista=dict(filters=64)))


def _by(claims):
    "Claims keyed by figure (a second 3a row: '3a clipped')."
    out = {}
    for c in claims:
        key = c.figure + (' clipped' if 'clipped' in c.claim else '')
        assert key not in out, key
        out[key] = c
    return out


def test_fig3_one_row_per_claim():
    c = fig3_claims(_fig3())
    assert [x.figure for x in c] == ['3a', '3a', '3b', '3c', '3d']
    d = _by(c)
    assert set(d['3c'].evidence) == {'random conv filters', 'dense Gaussian'}
    assert set(d['3d'].evidence) == {'random conv filters, Kruskal-Wallis', 'random conv filters, equivalence',
                                     'dense Gaussian, Kruskal-Wallis', 'dense Gaussian, equivalence'}
    assert 'random conv filters:' in d['3d'].measured and 'dense Gaussian:' in d['3d'].measured
    assert d['3d'].control.startswith('none applies') and d['3d'].evidence['dense Gaussian, equivalence'].control_passes is None
    assert f'EQ_MARGIN = {EQ_MARGIN.value:g}' in d['3d'].margin
    assert all('[' in x.measured for x in c)       # every measured number comes with its 95% CI
    assert d['3a'].data == ('MNIST-5k, small CNN, ConvLISTA 64 filters, l2 PGD on 200 test images; the paper: CIFAR-10, '
                            'WRN-28-10, ConvLISTA 64 filters, l2 PGD on 10,000 test images')


def test_fig3_rules_hold():
    assert {k: V(c) for k, c in _by(fig3_claims(_fig3())).items()} == {
        '3a': 'reproduced', '3a clipped': 'reproduced', '3b': 'reproduced', '3c': 'reproduced', '3d': 'reproduced'}


def test_fig3_rules_fail():
    r = _fig3(pgd_kind='narrow', order=(3.0, 4.0, 1.5), gauss_pgd='wide', gauss_order=(2.0, 2.4, 1.5))
    assert {k: V(c) for k, c in _by(fig3_claims(r)).items()} == {
        '3a': 'not reproduced', '3a clipped': 'not reproduced', '3b': 'not reproduced', '3c': 'not reproduced',
        '3d': 'not reproduced'}


@pytest.mark.parametrize('pgd,gauss,verdict', [('wide', 'narrow', 'reproduced'), ('narrow', 'narrow', 'not reproduced'),
                                               ('narrow', 'wide', 'not reproduced'), ('wide', 'wide', 'not evidence')])
def test_fig3a_four_paths_random_filters_control(pgd, gauss, verdict):
    "3a's control: the same sd rule under random conv filters of the same shape (does it need the learned dictionary?)."
    c = _by(fig3_claims(_fig3(pgd_kind=pgd, gauss_pgd=gauss)))
    for k in ('3a', '3a clipped'):
        assert V(c[k]) == verdict, k
        assert 'random conv filters' in c[k].control and ('passes the rule' if gauss == 'wide' else 'fails the rule') in c[k].control
        assert 'paired over the' in c[k].control                      # learned / random, paired over the image groups
    assert 'second noise draw' in c['3a'].calibration and 'second clipped-noise draw' in c['3a clipped'].calibration
    if verdict == 'not evidence':
        assert 'does not need the learned dictionary' in c['3a'].note


def test_fig3a_clipped_noise_control():
    "Clipped noise as uneven as PGD in place of PGD: the 3a row against plain noise is not evidence."
    c = _by(fig3_claims(_fig3(clipped_kind='wide')))
    assert V(c['3a']) == 'not evidence' and 'clipped' in c['3a'].control


def test_fig3a_inconclusive():
    "PGD as flat as noise: the sd ratio's CI straddles 1, so a slightly wider spread is not excluded."
    assert V(_by(fig3_claims(_fig3(pgd_kind='flat')))['3a']) == 'inconclusive'


def test_paired_sd_ratio_of_ratios():
    rng = RNG(5)
    Sa, Sb = _S(rng, rng.lognormal(0, 0.3, N)), _S(rng)
    a = b = _sd_compare(Sa, Sb)
    q = _paired_sd(a, b)
    assert q['ratio'] == pytest.approx(1) and q['lo'] == pytest.approx(1) and q['hi'] == pytest.approx(1)
    c = _sd_compare(_S(rng, jitter=0.04), Sb)
    q = _paired_sd(a, c)
    assert q['lo'] > 1 and q['lo'] <= q['ratio'] <= q['hi']
    assert _paired_sd({'sd_ratio': {}}, c) is None        # no per-group values: no paired ratio


@pytest.mark.parametrize('order,control,verdict', [((4.0, 3.0, 1.5), (2.0, 2.0, 2.0), 'reproduced'),
                                                   ((3.0, 4.0, 1.5), (2.0, 2.0, 2.0), 'not reproduced'),
                                                   ((3.0, 4.0, 1.5), (4.0, 3.0, 1.5), 'not reproduced'),
                                                   ((4.0, 3.0, 1.5), (4.0, 3.0, 1.5), 'not evidence')])
def test_fig3b_four_paths(order, control, verdict):
    "3b is decided by its own rule first: a clipped-noise grouping that passes never rescues a PGD order that fails."
    c = _by(fig3_claims(_fig3(order=order, control_order=control)))['3b']
    assert V(c) == verdict and 'clipped-noise' in c.control


def test_fig3b_inconclusive():
    "Top 2% above bottom, within the CIs: the order is neither shown nor excluded."
    assert V(_by(fig3_claims(_fig3(order=(3.06, 3.0, 1.5))))['3b']) == 'inconclusive'


def test_fig3c_depends_on_the_reading():
    c = _by(fig3_claims(_fig3(gauss_pgd=('narrow', 'wide'))))['3c']
    assert V(c) == 'depends on the reading' and 'random conv filters holds' in c.note and 'dense Gaussian fails' in c.note


def test_fig3d_readings_and_tests():
    "Medians equal under both readings: reproduced; 25% apart under one: depends on the reading; 5% apart: KW rejects, equivalence holds."
    ok = (1.43, 1.43, 1.43)
    assert V(_by(fig3_claims(_fig3(gauss_order=(ok, ok))))['3d']) == 'reproduced'
    far = _by(fig3_claims(_fig3(gauss_order=(ok, (1.43, 1.43 * 1.25, 1.43)))))['3d']
    assert V(far) == 'depends on the reading' and 'dense Gaussian (Kruskal-Wallis fails, equivalence fails)' in far.note
    near = _by(fig3_claims(_fig3(gauss_order=((1.43, 1.43 * 1.05, 1.43), (1.43, 1.43 * 1.05, 1.43)))))['3d']
    ev = near.evidence
    assert not ev['random conv filters, Kruskal-Wallis'].holds and ev['random conv filters, equivalence'].holds
    assert V(near) == 'depends on the reading'
    both = _by(fig3_claims(_fig3(gauss_order=((2.0, 2.4, 1.5), (2.0, 2.4, 1.5)))))['3d']
    assert V(both) == 'not reproduced'


def test_fig3d_margin_against_the_learned_dictionary():
    "The note says whether EQ_MARGIN is narrower than the learned dictionary's own ratios (the effect it excludes)."
    wide = _by(fig3_claims(_fig3(order=(4.0, 3.0, 1.5))))['3d']
    assert 'both outside the margin' in wide.note
    close = _by(fig3_claims(_fig3(order=(1.52, 1.5, 1.48))))['3d']
    assert 'top/bottom x1.01 and bottom/random x1.01 inside the margin' in close.note


def _fig4(pgd_kind='wide', clipped_kind='flat', gauss='narrow', seed=0):
    r = _fig3(pgd_kind=pgd_kind, clipped_kind=clipped_kind, gauss_pgd=gauss, seed=seed)
    r['models']['classifier'].update(name='resnet50', dataset='tiny-imagenet')
    r.update(figure='fig4', ran=True, reason='', paper_reference=dict(pgd_data_dictionary=dict(max=1.172, sd=0.053),
                                                                     noise_data_dictionary=dict(max=0.463, sd=0.0164)))
    return r


@pytest.mark.parametrize('kw,verdict', [({}, 'reproduced'), (dict(pgd_kind='narrow'), 'not reproduced'),
                                        (dict(pgd_kind='narrow', clipped_kind='wide'), 'not reproduced'),
                                        (dict(clipped_kind='wide'), 'not evidence'),
                                        (dict(gauss='wide'), 'not evidence')])
def test_fig4_four_paths(kw, verdict):
    c = fig4_claims(_fig4(**kw))
    assert len(c) == 1 and V(c[0]) == verdict
    assert 'random conv filters' in c[0].control and c[0].calibration
    assert c[0].data.startswith('Tiny ImageNet, ResNet50, ConvLISTA 64 filters, l2 PGD on 200')


def test_fig4_not_run_is_not_tested():
    r = dict(figure='fig4', profile={'name': 'quick'}, ran=False, reason='Tiny ImageNet is absent (x)',
             paper_reference=dict(pgd_data_dictionary=dict(max=1.172, sd=0.053), noise_data_dictionary=dict(max=0.463, sd=0.0164)))
    c = fig4_claims(r)
    assert len(c) == 1 and V(c[0]) == 'not tested' and c[0].note == r['reason'] and c[0].measured == 'not run'
