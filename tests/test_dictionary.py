"""The Dictionary interface (sparsadv.coding.dictionary): every implementation is checked against its explicit matrix:
adjointness, atom norms, columns, the Gram matrix, the operator norm, unit-norm atoms, for dense, convolutional and
scaled dictionaries, in float32 and float64."""
import pytest
import torch

from sparsadv.core.config import make_generator
from sparsadv.coding.dictionary import ConvDictionary, DenseDictionary, Dictionary, ScaledDictionary, as_dictionary


def _cases():
    g = make_generator(0)
    yield 'dense', DenseDictionary(torch.randn(7, 12, generator=g, dtype=torch.float64))
    yield 'conv 1ch', ConvDictionary(torch.randn(1, 3, 3, 3, generator=g, dtype=torch.float64)).at(5, 4)
    yield 'conv 3ch', ConvDictionary(torch.randn(3, 2, 5, 5, generator=g, dtype=torch.float64), (6, 6))
    yield 'scaled conv', ConvDictionary(torch.randn(2, 2, 3, 3, generator=g, dtype=torch.float64)).at(4, 5).normalized()
    yield 'scaled dense', DenseDictionary(torch.randn(5, 9, generator=g, dtype=torch.float64)).scaled(torch.rand(9, generator=g, dtype=torch.float64) + 0.5)


@pytest.mark.parametrize('name,d', list(_cases()), ids=[c[0] for c in _cases()])
def test_against_the_explicit_matrix(name, d):
    g = make_generator(1)
    Dm = Dictionary.columns(d, torch.arange(d.n))          # generic: one-hot codes through apply
    assert Dm.shape == (d.m, d.n)
    z = torch.randn(3, *d.code_shape, generator=g, dtype=torch.float64)
    x = torch.randn(3, *d.signal_shape, generator=g, dtype=torch.float64)
    assert torch.allclose(d.apply(z).reshape(3, -1), z.reshape(3, -1) @ Dm.T)
    assert torch.allclose(d.adjoint(x).reshape(3, -1), x.reshape(3, -1) @ Dm)
    assert torch.allclose((d.apply(z) * x).sum(), (z * d.adjoint(x)).sum())
    assert torch.allclose(d.atom_norms().reshape(-1), Dm.norm(dim=0))
    assert torch.allclose(d.gram_matrix(chunk=5), Dm @ Dm.T)
    assert torch.allclose(d.gram64(x.reshape(3, -1)), x.reshape(3, -1) @ (Dm @ Dm.T))
    smax = torch.linalg.svdvals(Dm)[0].item()
    assert abs(d.opnorm() - smax) < 1e-9 * smax and abs(d.opnorm(iters=2000, exact_up_to=0) - smax) < 1e-4 * smax
    assert torch.allclose(Dictionary.columns(d.normalized(), torch.arange(d.n)), Dm / Dm.norm(dim=0))
    idx = torch.tensor([0, d.n - 1])
    assert torch.allclose(d.columns(idx, unit=True), Dm[:, idx] / Dm[:, idx].norm(dim=0))


def test_float32_gram64_keeps_float64_scaling():
    d32 = ConvDictionary(torch.randn(1, 4, 3, 3, generator=make_generator(2))).at(6, 6).normalized()
    d64 = d32.with_dtype(torch.float64)
    x = torch.randn(2, 36, generator=make_generator(3), dtype=torch.float64)
    assert d32.gram64(x).dtype == torch.float64
    assert torch.allclose(d32.gram64(x), d64.gram64(x), rtol=1e-5, atol=1e-5)


def test_as_dictionary_and_errors():
    D = torch.randn(4, 6)
    assert isinstance(as_dictionary(D), DenseDictionary) and as_dictionary(as_dictionary(D)).m == 4
    cd = ConvDictionary(torch.randn(2, 3, 3, 3))
    assert as_dictionary(cd, (2, 5, 7)).signal_shape == (2, 5, 7) and as_dictionary(cd, (5, 7)).code_shape == (3, 5, 7)
    with pytest.raises(ValueError, match='image size'): as_dictionary(cd)
    with pytest.raises(ValueError, match='C=1 channels'): as_dictionary(cd, (1, 5, 7))
    with pytest.raises(ValueError, match='image_shape'): as_dictionary(cd, (5,))
    with pytest.raises(TypeError, match='ndarray'): as_dictionary(D.numpy())
    with pytest.raises(ValueError, match='no image size'): cd.normalized()
    with pytest.raises(ValueError, match='code shape'): ScaledDictionary(as_dictionary(D), torch.ones(5))
    with pytest.raises(ValueError, match=r'z must have shape \(B, 6\)'): as_dictionary(D).apply(torch.zeros(2, 5))
    with pytest.raises(ValueError, match='all-zero atom'): DenseDictionary(torch.zeros(3, 4)).normalized()
