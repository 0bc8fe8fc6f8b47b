"""Dict-Attack (eq. 3) against numpy's SVD."""
import numpy as np
import pytest
import torch

from sparsadv.data.synthetic import gaussian_dictionary
from sparsadv.attacks.dict_attack import dict_attack, smallest_left_singular


def _numpy_umin(D):
    U, S, _ = np.linalg.svd(D.double().numpy(), full_matrices=False)
    return U[:, -1], S[-1]


@pytest.mark.parametrize('m,n,seed', [(10, 20, 0), (50, 100, 1), (250, 500, 2), (30, 30, 3)])
def test_matches_numpy_svd(m, n, seed):
    D = gaussian_dictionary(m, n, seed=seed)
    u_ref, s_ref = _numpy_umin(D)
    delta = dict_attack(D, 0.7)
    assert delta.shape == (m,)
    assert abs(delta.norm().item() - 0.7) < 1e-5
    assert abs(abs(delta.double().numpy() @ u_ref) / 0.7 - 1) < 1e-5
    assert abs(smallest_left_singular(D)[1] - s_ref) < 1e-6 * max(1, s_ref)


def test_ill_conditioned():
    # a dictionary with a prescribed spectrum: singular values from 1 down to 1e-4, well separated at the bottom
    g = torch.Generator().manual_seed(0)
    m, n = 40, 80
    U, _ = torch.linalg.qr(torch.randn(m, m, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(n, m, generator=g, dtype=torch.float64))
    s = torch.logspace(0, -4, m, dtype=torch.float64)
    D = (U * s) @ V.T
    D = D / D.norm(dim=0)               # unit columns, as a dictionary; still badly conditioned
    u_ref, s_ref = _numpy_umin(D)
    u, sig, _ = smallest_left_singular(D)
    assert abs(abs(u.numpy() @ u_ref) - 1) < 1e-6
    assert abs(sig - s_ref) / s_ref < 1e-3


def test_sign_convention_and_universality():
    D = gaussian_dictionary(30, 60, seed=5)
    u, _, _ = smallest_left_singular(D)
    assert u[u.abs().argmax()] > 0
    # a row-sign flip of D flips u_min's entries; the convention still makes the largest entry positive
    flip = torch.ones(30); flip[::2] = -1
    u2, _, _ = smallest_left_singular(flip[:, None] * D)
    assert u2[u2.abs().argmax()] > 0 and torch.allclose((flip * u).abs(), u2.abs(), atol=1e-6)
    # deterministic, no randomness involved
    assert torch.equal(dict_attack(D, 1.0), dict_attack(D, 1.0))


def test_is_the_worst_direction():
    D = gaussian_dictionary(20, 40, seed=7).double()
    Dp = torch.linalg.pinv(D)
    best = (Dp @ dict_attack(D, 1.0)).norm()
    dirs = torch.randn(5000, 20, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    assert (dirs @ Dp.T).norm(dim=1).max() < best


@pytest.mark.parametrize('D,eps,match', [
    (torch.zeros(5), 1.0, 'D must have 2 dimensions'),
    (torch.full((3, 6), float('nan')), 1.0, 'D contains NaN'),
    (gaussian_dictionary(6, 3), 1.0, 'm <= n'),
    (gaussian_dictionary(3, 6), 0.0, 'eps'),
    (gaussian_dictionary(3, 6), -1.0, 'eps'),
    (gaussian_dictionary(3, 6), float('inf'), 'eps'),
])
def test_bad_input(D, eps, match):
    with pytest.raises(ValueError, match=match):
        dict_attack(D, eps)
