"Tests of sparsadv.analysis: atom correlations (eq. 2) and sub-matrix spectra against dense NumPy computations."
import numpy as np
import pytest
import torch

from sparsadv.core.config import make_generator
from sparsadv.coding.dictionary import ConvDictionary
from sparsadv.analysis.atoms import atom_correlations, correlation_groups, submatrix_spectra, spectra_summary, gaussian_conv_dictionary_like


pytestmark = pytest.mark.usefixtures('one_thread')  # see conftest.py


def eq2_numpy(delta, D):
    "Eq. 2 with the absolute value, by definition: unit-norm perturbations (rows) and unit-norm atoms (columns)."
    d = delta.reshape(delta.shape[0], -1)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    Dn = D / np.linalg.norm(D, axis=0)
    c = np.abs(d @ Dn).sum(axis=0)
    return c / c.sum()


@pytest.mark.parametrize('C,Fn,k,H,W', [(1, 4, 3, 6, 6), (3, 4, 5, 7, 7), (2, 3, 5, 5, 8)])
def test_correlations_conv_equal_dense(C, Fn, k, H, W):
    g = make_generator(k * 10 + C)
    dic = ConvDictionary(torch.randn(C, Fn, k, k, generator=g, dtype=torch.float64))
    D = dic.dense(H, W)
    delta = torch.randn(13, C, H, W, generator=g, dtype=torch.float64) * torch.rand(13, 1, 1, 1, generator=g, dtype=torch.float64)
    ref = eq2_numpy(delta.numpy(), D.numpy())
    for b in (1, 4, 100):                          # chunking does not change the result
        np.testing.assert_allclose(atom_correlations(delta, dic, batch=b).numpy(), ref, rtol=1e-10)
    np.testing.assert_allclose(atom_correlations(delta, D).numpy(), ref, rtol=1e-10)
    np.testing.assert_allclose(atom_correlations(delta.reshape(13, -1), D).numpy(), ref, rtol=1e-10)
    c = atom_correlations(delta, dic)
    assert c.shape == (Fn * H * W,) and c.dtype == torch.float64 and (c >= 0).all()
    assert abs(c.sum().item() - 1) < 1e-12
    ps = atom_correlations(delta, dic, per_sample=True, batch=5)
    assert ps.shape == (13, Fn * H * W)
    np.testing.assert_allclose((ps.sum(0) / ps.sum()).numpy(), ref, rtol=1e-10)


def test_correlations_scale_invariant_and_float32():
    g = make_generator(1)
    dic = ConvDictionary(torch.randn(1, 4, 5, 5, generator=g))
    delta = torch.randn(6, 1, 10, 10, generator=g)
    c = atom_correlations(delta, dic)
    assert torch.allclose(atom_correlations(7.5 * delta, dic), c, rtol=1e-5)
    assert torch.allclose(atom_correlations(delta, ConvDictionary(3 * dic.weight)), c, rtol=1e-5)
    np.testing.assert_allclose(c.numpy(), eq2_numpy(delta.double().numpy(), dic.dense(10, 10).double().numpy()), rtol=1e-4)


def test_correlations_without_dense_matrix(monkeypatch):
    "A CIFAR-sized dictionary (3 x 32 x 32, 64 filters of 7 x 7: a 3072 x 65536 matrix) never goes dense."
    monkeypatch.setattr(ConvDictionary, 'dense', lambda *a, **k: (_ for _ in ()).throw(AssertionError('dense used')))
    dic = ConvDictionary(torch.randn(3, 64, 7, 7, generator=make_generator(2)))
    c = atom_correlations(torch.randn(5, 3, 32, 32, generator=make_generator(3)), dic, batch=2)
    assert c.shape == (64 * 32 * 32,) and abs(c.sum().item() - 1) < 1e-9


def test_correlations_errors():
    dic = ConvDictionary(torch.randn(2, 3, 3, 3))
    with pytest.raises(ValueError, match='all-zero'): atom_correlations(torch.zeros(2, 2, 5, 5), dic)
    with pytest.raises(ValueError, match='C=2'): atom_correlations(torch.randn(2, 1, 5, 5), dic)
    with pytest.raises(ValueError, match='m = 10'): atom_correlations(torch.randn(2, 9), torch.randn(10, 20))
    with pytest.raises(ValueError, match='ConvDictionary'): atom_correlations(torch.randn(2, 9), np.zeros((9, 3)))


def test_correlation_groups():
    corr = torch.tensor([0.1, 0.5, 0.05, 0.2, 0.15])
    g = correlation_groups(corr, k=2)
    assert g['top'].tolist() == [1, 3] and g['bottom'].tolist() == [2, 0] and g['random'].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match='k=6'): correlation_groups(corr, k=6)


@pytest.fixture(scope='module')
def tiny():
    g = make_generator(4)
    dic = ConvDictionary(torch.randn(2, 4, 5, 5, generator=g, dtype=torch.float64))
    D = dic.dense(7, 7)
    corr = atom_correlations(torch.randn(9, 2, 7, 7, generator=g, dtype=torch.float64), dic)
    return dic, D, correlation_groups(corr, k=25)


def test_spectra_match_numpy_svd(tiny):
    dic, D, groups = tiny
    sp, picks = submatrix_spectra(dic, groups, n_sub=6, size=10, seed=2, image_shape=(7, 7), return_indices=True)
    sp_dense = submatrix_spectra(D, groups, n_sub=6, size=10, seed=2)
    Dn = (D / D.norm(dim=0)).numpy()
    for name in groups:
        assert sp[name].shape == (6, 10) and picks[name].shape == (6, 10)
        assert torch.allclose(sp[name], sp_dense[name], atol=1e-12)
        for s, p in zip(sp[name], picks[name]):
            np.testing.assert_allclose(s.numpy(), np.linalg.svd(Dn[:, p.numpy()], compute_uv=False), atol=1e-10)
        assert (sp[name][:, :-1] >= sp[name][:, 1:]).all()    # largest first


def test_sampling_without_replacement_within_groups(tiny):
    dic, D, groups = tiny
    _, picks = submatrix_spectra(D, groups, n_sub=50, size=25, seed=0, return_indices=True)
    for name, p in picks.items():
        assert all(torch.unique(row).numel() == 25 for row in p), name       # no repeats, even size == group size
        assert set(p.reshape(-1).tolist()) <= set(groups[name].tolist())
    assert len({tuple(r.tolist()) for r in picks['random']}) > 45               # the sub-matrices differ


def test_sampling_with_replacement_repeats_and_is_singular(tiny):
    "The authors' variant: from a group of 25 atoms, 10 draws repeat an atom in most sub-matrices -> zero singular values."
    dic, D, groups = tiny
    sp, picks = submatrix_spectra(D, {'top': groups['top']}, n_sub=200, size=10, seed=0, replace=True, return_indices=True)
    repeats = np.array([torch.unique(r).numel() < 10 for r in picks['top']])
    expected = 1 - np.prod([1 - i / 25 for i in range(10)])                     # about 0.88
    assert abs(repeats.mean() - expected) < 0.08
    assert ((sp['top'][:, -1] < 1e-10).numpy() == repeats).all()               # a repeat <=> singular


def test_spectra_determinism_and_errors(tiny):
    dic, D, groups = tiny
    a = submatrix_spectra(D, groups, n_sub=4, size=5, seed=9)
    b = submatrix_spectra(D, dict(reversed(list(groups.items()))), n_sub=4, size=5, seed=9)   # group order irrelevant
    c = submatrix_spectra(D, groups, n_sub=4, size=5, seed=10)
    assert all(torch.equal(a[k], b[k]) for k in a) and not all(torch.equal(a[k], c[k]) for k in a)
    with pytest.raises(ValueError, match='at least size'): submatrix_spectra(D, {'g': torch.arange(4)}, size=5)
    with pytest.raises(ValueError, match='image_shape'): submatrix_spectra(dic, groups)
    with pytest.raises(ValueError, match='repeats'): submatrix_spectra(D, {'g': torch.tensor([1, 1, 2])}, size=2)
    with pytest.raises(ValueError, match='outside'): submatrix_spectra(D, {'g': torch.tensor([0, 10 ** 6])}, size=2)
    s = spectra_summary(a)
    assert set(s) == set(groups) and all(v['cond_median'] >= 1 for v in s.values())


def test_gaussian_like():
    dic = ConvDictionary(torch.randn(3, 6, 5, 5, generator=make_generator(0)))
    g1, g2, g3 = (gaussian_conv_dictionary_like(dic, seed=s) for s in (1, 1, 2))
    assert isinstance(g1, ConvDictionary) and g1.weight.shape == dic.weight.shape and g1.weight.dtype == dic.weight.dtype
    assert torch.equal(g1.weight, g2.weight) and not torch.equal(g1.weight, g3.weight)
    assert torch.allclose(g1.weight.pow(2).sum(dim=(0, 2, 3)), torch.ones(6), atol=1e-5)
    # i.i.d. Gaussian entries: standardised values look normal (mean 0, kurtosis 3)
    w = (g1.weight * 5 * np.sqrt(3)).reshape(-1).double().numpy()   # each filter has 75 entries of variance 1/75
    assert abs(w.mean()) < 0.15 and abs(((w - w.mean()) ** 4).mean() / w.var() ** 2 - 3) < 0.8
    Dd = gaussian_conv_dictionary_like(torch.randn(10, 20), seed=0)
    assert Dd.shape == (10, 20) and torch.allclose(Dd.norm(dim=0), torch.ones(20), atol=1e-5)
