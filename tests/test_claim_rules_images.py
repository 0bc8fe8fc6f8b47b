"""The verdict rules of the Fig 2, 3 and 4 claims, on constructed results (no model runs): for each rule a case where the
claim holds, one where it fails, and a model-free control put in place of the attack, which must fail the rule (and a
control that passes the rule must withhold the verdict)."""
import numpy as np
import pytest
import torch

from sparsadv.analysis.stats import paired_ratio
from sparsadv.experiments.images import (AA_MARGIN, EQ_MARGIN, MIN_PAIRED, _cond_stats, _sd_compare, fig2_claims,
                                         fig3_claims, fig4_claims)

RNG = lambda seed: np.random.default_rng(seed)


# ---------- Fig 2: paired ratios over images ----------

def _fig2(pgd_gain, control_gain, aa=None, n=40, seed=0):
    """Per-image mean |dz| for a baseline; PGD = baseline x pgd_gain, the random-sign control = baseline x control_gain,
    each with its own per-image scatter; aa: (AutoAttack gain over PGD, random-sign gain over PGD) or None."""
    rng = RNG(seed)
    base = rng.gamma(20, 0.01, n)
    pgd = base * pgd_gain * rng.lognormal(0, 0.05, n)
    ctl = base * control_gain * rng.lognormal(0, 0.05, n)
    comp = {ref: {'PGD': paired_ratio(pgd, base), 'random signs (control)': paired_ratio(ctl, base)}
            for ref in ('l_inf-matched noise', 'l2-matched noise', 'random signs')}
    share = base / base.max()
    near = {'PGD': paired_ratio(share * pgd_gain * rng.lognormal(0, 0.05, n), share),
            'random signs (control)': paired_ratio(share * control_gain * rng.lognormal(0, 0.05, n), share)}
    im = dict(n_used=n, used='all', comparisons=comp, near_share=near,
              mean_near_share={'PGD': 0.1, 'l2-matched noise': 0.08})
    if aa is not None:
        a_gain, s_gain = aa
        pg = rng.gamma(20, 0.01, n)
        im['autoattack'] = dict(n_run=n, n_run_pgd_fooled=n, n_fooled=n, n_both=n, settings={}, margin=AA_MARGIN, linf_max=0.03,
                                ratio=paired_ratio(pg * a_gain * rng.lognormal(0, 0.03, n), pg),
                                control=paired_ratio(pg * s_gain * rng.lognormal(0, 0.03, n), pg), reason='')
    return dict(figure='fig2', profile={'name': 'cpu'}, attacks={}, tests={}, near_zero_frac=0.9, near_zero_rel=0.01, images=im)


def _rows(claims, word):
    return [c for c in claims if word in c.claim]


def test_fig2_rules_hold_fail_and_control():
    holds = fig2_claims(_fig2(1.5, 1.0))
    fails = fig2_claims(_fig2(1.0, 1.0))
    assert [c.reproduced for c in _rows(holds, 'more than')] == [True] * 3
    assert _rows(holds, 'near-zero')[0].reproduced is True
    assert [c.reproduced for c in _rows(fails, 'more than') + _rows(fails, 'near-zero')] == [False] * 4
    # the control's own verdict under the rule is written in the control field
    assert all('fails the rule' in c.control for c in _rows(holds, 'more than'))


def test_fig2_control_passing_withholds_the_verdict():
    "A model-free control that passes the rule (random signs as strong as PGD): not evidence, no verdict."
    claims = fig2_claims(_fig2(1.5, 1.5))
    rows = _rows(claims, 'more than') + _rows(claims, 'near-zero')
    assert all(c.reproduced is None and c.note.startswith('not evidence') and 'passes the rule' in c.control for c in rows)


@pytest.mark.parametrize('seed', range(3))
def test_fig2_control_in_place_of_pgd_fails(seed):
    "A second random-sign draw in place of PGD (gain 1 over the same baseline) fails every 'PGD moves the code more' rule."
    claims = fig2_claims(_fig2(1.0, 1.0, seed=seed))
    assert not any(c.reproduced for c in _rows(claims, 'more than'))


def test_fig2_autoattack_equivalence_rule():
    row = lambda aa: _rows(fig2_claims(_fig2(1.5, 1.0, aa=aa)), 'barely matters')[0]
    assert row((1.02, 2.0)).reproduced is True                 # AA within the margin of PGD, random signs far from it
    assert row((1.6, 2.0)).reproduced is False                 # AA moves the code 60% more: outside [0.8, 1.25]
    same = row((1.02, 0.99))                                    # random signs equivalent to PGD too: not evidence
    assert same.reproduced is None and same.note.startswith('not evidence') and 'passes the rule' in same.control
    # the margin is the stated one
    assert f'{AA_MARGIN:g}' in row((1.02, 2.0)).test


def test_fig2_autoattack_too_few_images_not_tested():
    r = _fig2(1.5, 1.0, aa=(1.0, 2.0))
    r['images']['autoattack'].update(ratio=None, control=None, n_fooled=MIN_PAIRED - 1, reason='AutoAttack fooled 4 of 16')
    c = _rows(fig2_claims(r), 'barely matters')[0]
    assert c.reproduced is None and 'fooled 4' in c.note and c.control


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
    rng = RNG(seed)
    kinds = {'wide': lambda: _S(rng, rng.lognormal(0, 0.3, N)), 'flat': lambda: _S(rng),
             'narrow': lambda: _S(rng, jitter=0.04)}
    affinity = {'flat': None, 'wide': rng.lognormal(0, 0.3, N)}
    dicts = {'convlista': _block(kinds[pgd_kind](), affinity[clipped_kind], _conds(rng, *order), _conds(rng, *control_order), seed)}
    for key in ('gaussian', 'gaussian_dense'):
        dicts[key] = _block(kinds[gauss_pgd](), None, _conds(rng, *gauss_order, sd=0.01), _conds(rng, 2, 2, 2), seed)
    return dict(figure='fig3', profile={'name': 'cpu'}, dictionaries=dicts)


def _by(claims):
    "Verdicts keyed by (figure, first words of the claim)."
    out = {}
    for c in claims:
        key = c.figure + (' clipped' if 'clipped' in c.claim else '') + (' dense' if 'dense' in c.claim else '') + \
              (' equivalent' if 'equivalent' in c.claim else '')
        out[key] = c
    return out


def test_fig3_rules_hold():
    v = {k: c.reproduced for k, c in _by(fig3_claims(_fig3())).items()}
    assert v == {'3a': True, '3a clipped': True, '3b': True, '3c': True, '3d': True, '3d equivalent': True,
                 '3c dense': True, '3d dense': True, '3d dense equivalent': True}


def test_fig3_rules_fail():
    r = _fig3(pgd_kind='flat', order=(3.0, 4.0, 1.5), gauss_pgd='wide', gauss_order=(2.0, 2.4, 1.5))
    v = {k: c.reproduced for k, c in _by(fig3_claims(r)).items()}
    assert v == {'3a': False, '3a clipped': False, '3b': False, '3c': False, '3d': False, '3d equivalent': False,
                 '3c dense': False, '3d dense': False, '3d dense equivalent': False}


def test_fig3_equivalence_margin():
    "Medians 5% apart are equivalent within 10%; 25% apart are not (the Kruskal-Wallis row may say either)."
    near = _by(fig3_claims(_fig3(gauss_order=(1.43, 1.43 * 1.0, 1.43))))['3d equivalent'].reproduced
    far = _by(fig3_claims(_fig3(gauss_order=(1.43, 1.43 * 1.25, 1.43))))['3d equivalent'].reproduced
    assert near is True and far is False and EQ_MARGIN == pytest.approx(1.1)


def test_fig3_controls_in_place_of_pgd_fail():
    "A second noise draw in place of PGD fails 3a; groups whose condition numbers do not differ fail 3b."
    for seed in range(3):
        c = _by(fig3_claims(_fig3(pgd_kind='flat', order=(2.0, 2.0, 2.0), seed=seed)))
        assert c['3a'].reproduced is False and c['3b'].reproduced is False
        assert 'a second noise draw in place of PGD' in c['3a'].control and 'fails the rule' in c['3a'].control


def test_fig3_control_passing_withholds_the_verdict():
    "Clipped noise as uneven as PGD passes the 3a rule, and groups picked by it ordered like PGD's pass 3b: no verdicts."
    c = _by(fig3_claims(_fig3(clipped_kind='wide', control_order=(4.0, 3.0, 1.5))))
    for k in ('3a', '3b'):
        assert c[k].reproduced is None and c[k].note.startswith('not evidence') and 'passes the rule' in c[k].control
    assert c['3c'].control and c['3d'].control.startswith('none applies')


def test_fig3_numbers_carry_cis():
    c = _by(fig3_claims(_fig3()))
    assert all('[' in c[k].measured for k in c)      # every measured number comes with its 95% CI


def _fig4(pgd_kind='wide', clipped_kind='flat', seed=0):
    r = _fig3(pgd_kind=pgd_kind, clipped_kind=clipped_kind, seed=seed)
    r.update(figure='fig4', ran=True, reason='', paper_reference=dict(pgd_data_dictionary=dict(max=1.172, sd=0.053),
                                                                     noise_data_dictionary=dict(max=0.463, sd=0.0164)))
    return r


def test_fig4_rule_holds_fails_and_control():
    assert fig4_claims(_fig4())[0].reproduced is True
    assert fig4_claims(_fig4(pgd_kind='flat'))[0].reproduced is False        # a noise draw in place of PGD fails
    ctl = fig4_claims(_fig4(clipped_kind='wide'))[0]                         # the clipped control passes: no verdict
    assert ctl.reproduced is None and ctl.note.startswith('not evidence')
