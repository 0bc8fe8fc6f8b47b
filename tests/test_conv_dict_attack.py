"""Convolutional Dict-Attack (eq. 3) and class-pair directions (eqs. 4-5) against dense numpy/torch computations."""
import numpy as np
import pytest
import torch

from sparsadv.core.config import make_generator
from sparsadv.coding.dictionary import ConvDictionary
from sparsadv.attacks.dict_attack import dict_attack, smallest_left_singular, class_pair_directions, class_pair_attack


@pytest.mark.parametrize('C,H,W,Fn,k,method', [(1, 6, 6, 3, 3, 'explicit'), (1, 7, 5, 2, 5, 'lobpcg'),
                                                (3, 5, 5, 4, 3, 'explicit'), (3, 6, 4, 5, 3, 'lobpcg')])
def test_conv_da_matches_dense_svd(C, H, W, Fn, k, method):
    dic = ConvDictionary(torch.randn(C, Fn, k, k, generator=make_generator(H * W + Fn), dtype=torch.float64))
    Dm = dic.dense(H, W).numpy()
    Dm = Dm / np.linalg.norm(Dm, axis=0)            # unit-norm atoms
    U, S, _ = np.linalg.svd(Dm, full_matrices=False)
    d = dict_attack(dic, 0.8, (C, H, W), method=method)
    assert d.shape == (C, H, W)
    assert abs(d.norm().item() - 0.8) < 1e-10
    assert abs(abs(d.reshape(-1).numpy() @ U[:, -1]) / 0.8 - 1) < 1e-7
    u = d.reshape(-1); assert u[u.abs().argmax()] > 0      # sign convention
    assert abs(smallest_left_singular(dic, (C, H, W), method=method)[1] - S[-1]) < 1e-6


def test_filter_normalisation_and_none():
    dic = ConvDictionary(torch.randn(1, 3, 3, 3, generator=make_generator(1), dtype=torch.float64))
    Dm = dic.dense(6, 6).numpy()
    U, _, _ = np.linalg.svd(Dm, full_matrices=False)
    d = dict_attack(dic, 1.0, (1, 6, 6), method='explicit', normalize=None)
    assert abs(abs(d.reshape(-1).numpy() @ U[:, -1]) - 1) < 1e-7


@pytest.mark.parametrize('C,H,W,Fn,K', [(1, 6, 6, 2, 3), (3, 4, 5, 4, 5)])
def test_class_pair_matches_dense_pinv(C, H, W, Fn, K):
    dic = ConvDictionary(torch.randn(C, Fn, 3, 3, generator=make_generator(C + K), dtype=torch.float64))
    Wc = torch.randn(K, Fn * H * W, generator=make_generator(K), dtype=torch.float64)
    dirs = class_pair_directions(dic, Wc, eps=2.5, image_shape=(C, H, W))
    assert dirs.shape == (K, K, C, H, W)
    Dm = dic.dense(H, W)
    P = torch.linalg.pinv(Dm @ Dm.T, hermitian=True) @ Dm
    for c in range(K):
        for i in range(K):
            nrm = dirs[c, i].norm().item()
            if c == i:
                assert nrm == 0; continue
            ref = P @ (Wc[i] - Wc[c]); ref = 2.5 * ref / ref.norm()
            assert torch.allclose(dirs[c, i].reshape(-1), ref, atol=1e-8)
            assert abs(nrm - 2.5) < 1e-10
    pert = class_pair_attack(dirs, torch.tensor([0, 2]), torch.tensor([1, 0]))
    assert torch.equal(pert[0], dirs[0, 1]) and torch.equal(pert[1], dirs[2, 0])
    with pytest.raises(ValueError): class_pair_attack(dirs, torch.tensor([0]), torch.tensor([K]))


def test_one_function_for_dense_and_convolutional():
    "The same dictionary as a ConvDictionary and as its dense matrix gives the same Dict-Attack and class-pair directions."
    from sparsadv.coding.dictionary import DenseDictionary
    dic = ConvDictionary(torch.randn(2, 3, 3, 3, generator=make_generator(4), dtype=torch.float64))
    Dm = dic.dense(5, 5)
    for normalize in ('atoms', None):
        a = dict_attack(dic, 1.0, (2, 5, 5), normalize=normalize, method='explicit')
        b = dict_attack(Dm, 1.0, normalize=normalize)
        assert torch.allclose(a.reshape(-1), b, atol=1e-10)
    Wc = torch.randn(3, Dm.shape[1], generator=make_generator(5), dtype=torch.float64)
    assert torch.allclose(class_pair_directions(dic, Wc, 1.0, (2, 5, 5)).reshape(3, 3, -1),
                          class_pair_directions(DenseDictionary(Dm), Wc, 1.0), atol=1e-8)
