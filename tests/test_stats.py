"Tests of sparsadv.stats against scipy.stats / numpy and known cases."
import math
import numpy as np
import pytest
import torch
from scipy import stats

from sparsadv.analysis.stats import as_sample, ttest, levene_test, percentiles, mean_ci, summary


@pytest.fixture
def samples():
    rng = np.random.default_rng(42)
    return rng.normal(0.0, 1.0, 300), rng.normal(0.3, 2.0, 200)


@pytest.mark.parametrize('equal_var', [False, True])
@pytest.mark.parametrize('alternative', ['two-sided', 'greater', 'less'])
def test_ttest_matches_scipy(samples, equal_var, alternative):
    a, b = samples
    ref = stats.ttest_ind(a, b, equal_var=equal_var, alternative=alternative)
    for conv in (np.asarray, torch.tensor, list):
        r = ttest(conv(a), conv(b), equal_var=equal_var, alternative=alternative)
        assert r['t'] == pytest.approx(ref.statistic, rel=1e-12)
        assert r['p'] == pytest.approx(ref.pvalue, rel=1e-9)
        assert r['df'] == pytest.approx(ref.df, rel=1e-12)
        assert r['mean_a'] == pytest.approx(a.mean()) and r['mean_b'] == pytest.approx(b.mean())
        assert (r['n_a'], r['n_b']) == (300, 200)
        assert all(type(v) in (float, int) for v in r.values())


def test_ttest_default_is_welch(samples):
    a, b = samples
    welch = stats.ttest_ind(a, b, equal_var=False)
    student = stats.ttest_ind(a, b, equal_var=True)
    assert not math.isclose(welch.pvalue, student.pvalue, rel_tol=1e-3)  # the check can tell them apart
    assert ttest(a, b)['p'] == pytest.approx(welch.pvalue, rel=1e-12)
    # Welch-Satterthwaite degrees of freedom by hand
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    assert ttest(a, b)['df'] == pytest.approx(df, rel=1e-12)


def test_ttest_known_cases():
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    same = ttest(a, a.copy())
    assert same['t'] == 0 and same['p'] == 1.0
    shifted = ttest(a + 0.5, a)
    assert shifted['p'] < 1e-10 and shifted['t'] > 0
    assert ttest(a, rng.normal(size=500))['p'] > 1e-3  # same distribution: no tiny p (fixed seed)
    # a hand computation: a = [1, 2, 3], b = [4, 5, 6] -> Student t = -3 / sqrt(2/3) with 4 df
    r = ttest([1, 2, 3], [4, 5, 6], equal_var=True)
    assert r['t'] == pytest.approx(-3 / math.sqrt(2 / 3)) and r['df'] == 4
    assert r['p'] == pytest.approx(2 * stats.t.sf(3 / math.sqrt(2 / 3), 4))


@pytest.mark.parametrize('center', ['median', 'mean', 'trimmed'])
def test_levene_matches_scipy(samples, center):
    a, b = samples
    ref = stats.levene(a, b, center=center)
    r = levene_test(torch.tensor(a), b, center=center)
    assert r['W'] == pytest.approx(ref.statistic, rel=1e-12) and r['p'] == pytest.approx(ref.pvalue, rel=1e-9)
    assert r['sd_a'] == pytest.approx(np.std(a, ddof=1)) and r['sd_b'] == pytest.approx(np.std(b, ddof=1))


def test_levene_known_cases(samples):
    a, b = samples  # sd 1 vs sd 2
    assert levene_test(a, b)['p'] < 1e-10
    assert levene_test(a, a + 10.0)['p'] == pytest.approx(1.0)  # a shift does not change the spread
    # median-centred default = Brown-Forsythe: the ANOVA F of |x - median| by hand
    za, zb = np.abs(a - np.median(a)), np.abs(b - np.median(b))
    assert levene_test(a, b)['W'] == pytest.approx(stats.f_oneway(za, zb).statistic, rel=1e-10)


def test_percentiles_and_summary(samples):
    a, _ = samples
    q = (5, 25, 50, 75, 95)
    assert percentiles(a, q) == {k: pytest.approx(v) for k, v in zip(q, np.percentile(a, q))}
    assert percentiles(torch.tensor(a))[50] == pytest.approx(np.median(a))
    assert percentiles([4.0, 1.0, 3.0, 2.0], q=(0, 100)) == {0: 1.0, 100: 4.0}
    s = summary(torch.tensor(a, dtype=torch.float32))
    assert set(s) == {'mean', 'sd', 'p25', 'median', 'p75', 'min', 'max', 'n'} and s['n'] == 300
    a32 = torch.tensor(a, dtype=torch.float32).double().numpy()
    assert s['mean'] == pytest.approx(a32.mean()) and s['sd'] == pytest.approx(a32.std(ddof=1))
    assert (s['p25'], s['median'], s['p75']) == pytest.approx(tuple(np.percentile(a32, [25, 50, 75])))
    assert (s['min'], s['max']) == (a32.min(), a32.max())
    assert all(type(v) in (float, int) for v in s.values())


def test_mean_ci(samples):
    a, _ = samples
    m, lo, hi = mean_ci(a, confidence=0.9)
    half = stats.t.ppf(0.95, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size)
    assert m == pytest.approx(a.mean()) and lo == pytest.approx(m - half) and hi == pytest.approx(m + half)
    assert mean_ci(a, 0.99)[2] > mean_ci(a, 0.9)[2]
    # coverage: the 95% interval of N(1, 1) samples of size 8 contains 1 about 95% of the time
    rng = np.random.default_rng(7)
    hits = sum(lo <= 1.0 <= hi for _, lo, hi in (mean_ci(rng.normal(1.0, 1.0, 8)) for _ in range(2000)))
    assert 0.93 < hits / 2000 < 0.97
    assert mean_ci([3.0, 3.0]) == (3.0, 3.0, 3.0)


@pytest.mark.parametrize('fn', [lambda a: ttest(a, [1., 2., 3.]), lambda a: ttest([1., 2., 3.], a),
                                lambda a: levene_test(a, [1., 2., 3.]), percentiles, mean_ci, summary])
def test_bad_input(fn):
    for bad in ([], np.array([1.0, np.nan, 2.0]), torch.tensor([1.0, float('inf'), 2.0]), np.zeros((2, 3)), 'abc'):
        with pytest.raises(ValueError):
            fn(bad)


def test_bad_input_messages():
    with pytest.raises(ValueError, match='^b has 0 values'):
        ttest([1., 2.], [])
    with pytest.raises(ValueError, match='^a contains 1 NaN'):
        summary([1., float('nan')])
    with pytest.raises(ValueError, match='^a has 1 values: at least 2'):
        mean_ci([1.])
    with pytest.raises(ValueError, match='^a must be 1-D'):
        percentiles(torch.zeros(3, 1))
    with pytest.raises(ValueError, match='alternative'):
        ttest([1., 2.], [3., 4.], alternative='bigger')
    with pytest.raises(ValueError, match='center'):
        levene_test([1., 2.], [3., 4.], center='mode')
    with pytest.raises(ValueError, match='confidence'):
        mean_ci([1., 2.], confidence=1.0)
    with pytest.raises(ValueError, match='q='):
        percentiles([1., 2.], q=(-1,))
    assert as_sample((1, 2)).tolist() == [1.0, 2.0]
