"""Property-based tests of the public API (hypothesis).

Two kinds of property:
- robustness: over shapes, dtypes, scales and degenerate dictionaries, a function returns a correct result (right
  shape and dtype, finite) or raises a documented exception (ValueError / TypeError) whose message names one of its
  arguments; never another exception, a NaN, or a silently different shape;
- cross-checks: OMP and LASSO are invariant to scaling the signal (the codes scale along), PGD stays within its
  budget for any eps, and the error split sums to the total for any pair of codes.

The examples are drawn deterministically (derandomize=True), so a failure reproduces on every run.
"""
import inspect, math, warnings
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st, HealthCheck

from sparsadv.core.checks import SparsadvNumericWarning
from sparsadv.coding.omp import omp
from sparsadv.coding.lasso import lasso, lasso_objective
from sparsadv.attacks.pgd import pgd, equal_norm_noise, per_sample_norm
from sparsadv.attacks.dict_attack import dict_attack
from sparsadv.analysis.metrics import error_split, nmse_db
from sparsadv.data.synthetic import synthetic_batch

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64]


def _dictionary(m, n, seed, dtype=torch.float64, kind='gaussian'):
    g = torch.Generator().manual_seed(seed)
    D = torch.randn(m, n, generator=g, dtype=torch.float64)
    if kind == 'zero-atom': D[:, 0] = 0
    elif kind == 'duplicate': D[:, 1] = D[:, 0]
    elif kind == 'rank-1': D = D[:, :1] @ torch.randn(1, n, generator=g, dtype=torch.float64)
    elif kind == 'zero': D = torch.zeros(m, n, dtype=torch.float64)
    nrm = D.norm(dim=0, keepdim=True)
    D = torch.where(nrm > 0, D / nrm.clamp_min(1e-300), D)
    return D.to(dtype)


def _codes(B, n, s, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    A = torch.zeros(B, n, dtype=torch.float64)
    for b in range(B):
        idx = torch.randperm(n, generator=g)[:s]
        A[b, idx] = torch.randn(s, generator=g, dtype=torch.float64).sign() * (0.5 + torch.rand(s, generator=g, dtype=torch.float64))
    return A.to(dtype)


def documented_or_correct(fn, call, check):
    """Run `call()`: a ValueError / TypeError naming an argument of `fn` passes; a result passes if `check(result)`;
    anything else fails with what happened."""
    names = [p for p in inspect.signature(fn).parameters]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', SparsadvNumericWarning)   # doubtful results are allowed: they are announced
        try:
            result = call()
        except (ValueError, TypeError) as e:
            msg = str(e)
            assert any(name in msg for name in names), f"{type(e).__name__} names no argument of {fn.__name__}: {msg}"
            return 'error'
    assert check(result), f"{fn.__name__} returned a wrong result: {result!r}"[:400]
    return 'result'


# ---------------------------------------------------------------------------------------------------- robustness
@SETTINGS
@given(m=st.integers(2, 12), extra=st.integers(0, 12), B=st.integers(0, 4), dx=st.integers(-1, 1),
       dtype=st.sampled_from(DTYPES), ddtype=st.sampled_from([torch.float32, torch.float64]),
       kind=st.sampled_from(['gaussian', 'zero-atom', 'duplicate', 'rank-1', 'zero']),
       log_scale=st.sampled_from([-9, 0, 5, 20]), k=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_omp_robust(m, extra, B, dx, dtype, ddtype, kind, log_scale, k, seed):
    n = m + extra
    D = _dictionary(m, n, seed, ddtype, kind)
    X = (torch.randn(B, max(m + dx, 1), generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
         * 10.0 ** log_scale).to(dtype)
    def check(A):
        return A.shape == (B, n) and A.dtype == X.dtype and bool(torch.isfinite(A).all())
    documented_or_correct(omp, lambda: omp(D, X, n_nonzero=min(k, n)), check)


@SETTINGS
@given(m=st.integers(2, 10), extra=st.integers(0, 10), B=st.integers(0, 3), dtype=st.sampled_from(DTYPES),
       kind=st.sampled_from(['gaussian', 'zero-atom', 'duplicate', 'rank-1', 'zero']),
       beta=st.sampled_from([1e-3, 0.1, 1.0, 0.0, -1.0, float('nan'), np.float32(0.05)]), seed=st.integers(0, 2**16))
def test_lasso_robust(m, extra, B, dtype, kind, beta, seed):
    n = m + extra
    D = _dictionary(m, n, seed, torch.float64, kind)
    X = torch.randn(B, m, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64).to(dtype)
    def check(A):
        return A.shape == (B, n) and A.dtype == X.dtype and bool(torch.isfinite(A).all())
    documented_or_correct(lasso, lambda: lasso(D, X, beta), check)


@SETTINGS
@given(B=st.integers(0, 4), d=st.integers(1, 6), dtype=st.sampled_from(DTYPES),
       eps=st.sampled_from([1e-12, 0.3, 1, 1e3, np.float32(0.5), np.float64(2.0), 0, -0.1, float('inf')]),
       norm=st.sampled_from([2, 'inf', math.inf, 'l2', 3]), steps=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_pgd_robust(B, d, dtype, eps, norm, steps, seed):
    torch.manual_seed(seed)
    model = torch.nn.Linear(d, 3).double().eval()
    x = torch.randn(B, d, dtype=torch.float64).to(dtype)
    def check(xa):
        return xa.shape == x.shape and bool(torch.isfinite(xa).all())
    documented_or_correct(pgd, lambda: pgd(model, x, eps=eps, steps=steps, norm=norm, seed=seed), check)


@SETTINGS
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=4), dtype=st.sampled_from(DTYPES),
       norm=st.sampled_from([2, 'inf', 0]), seed=st.integers(0, 2**16))
def test_equal_norm_noise_robust(shape, dtype, norm, seed):
    delta = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)
    def check(z):
        if z.shape != delta.shape or not torch.isfinite(z).all(): return False
        if z.numel() == 0: return True
        p = math.inf if norm == 'inf' else 2
        return torch.allclose(per_sample_norm(z, p).double(), per_sample_norm(delta, p).double(), rtol=1e-2, atol=1e-6)
    documented_or_correct(equal_norm_noise, lambda: equal_norm_noise(delta, norm=norm, seed=seed), check)


@SETTINGS
@given(m=st.integers(1, 8), extra=st.integers(0, 8), kind=st.sampled_from(['gaussian', 'duplicate', 'rank-1', 'zero']),
       eps=st.sampled_from([0.5, 3, np.float32(1.0), 0.0, -1.0]), dtype=st.sampled_from([torch.float32, torch.float64]),
       seed=st.integers(0, 2**16))
def test_dict_attack_robust(m, extra, kind, eps, dtype, seed):
    D = _dictionary(m, m + extra, seed, dtype, kind)
    def check(delta):
        return delta.shape[-1] == m and bool(torch.isfinite(delta).all()) and \
            abs(float(delta.double().norm()) - float(eps)) <= 1e-4 * max(1.0, float(eps))
    documented_or_correct(dict_attack, lambda: dict_attack(D, eps), check)


@SETTINGS
@given(B=st.integers(0, 3), n=st.integers(1, 6), zero_ref=st.booleans(), seed=st.integers(0, 2**16))
def test_nmse_db_robust(B, n, zero_ref, seed):
    a = _codes(B, n, min(2, n), seed)
    if zero_ref: a = torch.zeros_like(a)
    a_hat = a + 0.1 * torch.randn(B, n, generator=torch.Generator().manual_seed(seed), dtype=a.dtype)
    documented_or_correct(nmse_db, lambda: nmse_db(a_hat, a), lambda v: isinstance(v, float) and math.isfinite(v))


@SETTINGS
@given(m=st.integers(1, 8), n=st.integers(1, 8), batch=st.integers(0, 4), s=st.integers(0, 9),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_synthetic_batch_robust(m, n, batch, s, dtype, seed):
    D = _dictionary(m, n, seed, torch.float64).to(dtype)
    def check(xa):
        x, a = xa
        return x.shape == (batch, m) and a.shape == (batch, n) and x.dtype == D.dtype and \
            bool(((a != 0).sum(1) == s).all()) and torch.allclose(x, a @ D.T)
    documented_or_correct(synthetic_batch, lambda: synthetic_batch(D, batch, s, seed=seed), check)


# ---------------------------------------------------------------------------------------------------- cross-checks
@SETTINGS
@given(m=st.integers(6, 16), extra=st.integers(0, 16), k=st.integers(1, 3), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([torch.float32, torch.float64]), log_c=st.integers(-9, 20))
def test_omp_scaling(m, extra, k, seed, dtype, log_c):
    "omp(D, c X) = c omp(D, X): same support, codes scaled by c, for c from 1e-9 to 1e20."
    n = m + extra
    D = _dictionary(m, n, seed, dtype)
    A0 = _codes(4, n, k, seed + 1)
    X = (A0 @ D.double().T).to(dtype)
    c = 10.0 ** log_c
    with warnings.catch_warnings():
        warnings.simplefilter('error', SparsadvNumericWarning)
        A, Ac = omp(D, X, n_nonzero=k), omp(D, (X.double() * c).to(dtype), n_nonzero=k)
    assert torch.equal(A != 0, Ac != 0), "the support changed with the signal's scale"
    rel = (Ac.double() / c - A.double()).norm() / A.double().norm().clamp_min(1e-300)
    assert rel < (1e-3 if dtype == torch.float32 else 1e-9), float(rel)


@SETTINGS
@given(m=st.integers(6, 16), extra=st.integers(0, 16), k=st.integers(1, 3), seed=st.integers(0, 2**16),
       log_c=st.integers(-8, 8))
def test_omp_tol_scaling(m, extra, k, seed, log_c):
    "In tolerance mode: omp(D, c X, tol=c^2 t) = c omp(D, X, tol=t)."
    n = m + extra
    D = _dictionary(m, n, seed)
    X = _codes(4, n, k, seed + 1) @ D.T + 1e-3 * torch.randn(4, m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    t, c = 1e-4, 10.0 ** log_c
    A, Ac = omp(D, X, tol=t), omp(D, X * c, tol=t * c * c)
    assert torch.equal(A != 0, Ac != 0)
    assert torch.allclose(Ac / c, A, rtol=1e-8, atol=1e-12 * float(A.abs().max().clamp_min(1)))


@SETTINGS
@given(m=st.integers(4, 12), extra=st.integers(0, 12), seed=st.integers(0, 2**16), log_c=st.integers(-6, 6),
       beta=st.sampled_from([1e-3, 0.02, 0.2]))
def test_lasso_scaling(m, extra, seed, log_c, beta):
    "lasso(D, c X, c beta) = c lasso(D, X, beta): the objective scales by c^2, the solution by c."
    n = m + extra
    D = _dictionary(m, n, seed)
    X = torch.randn(3, m, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    c = 10.0 ** log_c
    A, Ac = lasso(D, X, beta), lasso(D, X * c, beta * c)
    obj = lasso_objective(D, X, A, beta)
    obj_c = lasso_objective(D, X, Ac / c, beta)
    assert torch.allclose(obj_c, obj, rtol=1e-6, atol=1e-12), (obj_c, obj)


@SETTINGS
@given(B=st.integers(1, 4), d=st.integers(1, 8), eps=st.floats(1e-9, 1e4), norm=st.sampled_from([2, math.inf]),
       step_size=st.floats(1e-4, 10.0), steps=st.integers(1, 4), rand_init=st.booleans(), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_pgd_within_budget(B, d, eps, norm, step_size, steps, rand_init, seed, dtype):
    "PGD's perturbation never leaves the eps ball, for any eps, step size and start."
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(d, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).to(dtype).eval()
    x = torch.randn(B, d, dtype=dtype)
    xa = pgd(model, x, eps=eps, steps=steps, step_size=step_size, norm=norm, rand_init=rand_init, seed=seed)
    r = per_sample_norm(xa - x, norm).double()
    tol = eps * (1e-5 if dtype == torch.float32 else 1e-12) + 4 * torch.finfo(dtype).eps * float(x.abs().max())
    assert bool((r <= eps + tol).all()), (float(r.max()), eps)


@SETTINGS
@given(B=st.integers(0, 5), n=st.integers(1, 10), s1=st.integers(0, 10), s2=st.integers(0, 10),
       seed=st.integers(0, 2**16), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_error_split_sums_to_total(B, n, s1, s2, seed, dtype):
    "excess + missing + in_support = total, for any pair of codes (supports overlapping or not)."
    a = _codes(B, n, min(s1, n), seed).to(dtype)
    b = _codes(B, n, min(s2, n), seed + 7).to(dtype)
    parts = error_split(a, b)
    assert all(parts[k].shape == (B,) for k in parts)
    total = parts['excess'] + parts['missing'] + parts['in_support']
    assert torch.allclose(total, parts['total'], rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=0)
