"Cross-checks of sparsadv.coding against scikit-learn (the paper's solvers) and SPAMS, plus properties."
import numpy as np
import pytest
import torch

from sparsadv.coding.omp import omp, omp_sklearn
from sparsadv.coding.lasso import lasso, lasso_sklearn, lasso_objective, lasso_gap, beta_to_sklearn_alpha, sklearn_alpha_to_beta
from sparsadv.analysis.metrics import error_split
from sparsadv.data.synthetic import gaussian_dictionary, sparse_codes
from sparsadv.core.checks import SparsadvNumericWarning


def problem(m=60, n=120, s=10, B=200, noise=0.05, seed=0):
    D = gaussian_dictionary(m, n, seed=seed)
    A = sparse_codes(B, n, s, seed=seed + 1)
    X = A @ D.T + noise * torch.randn(B, m, generator=torch.Generator().manual_seed(seed + 2))
    return D, A, X


def same_support(a, b):
    return ((a != 0) == (b != 0)).all(1)


@pytest.fixture(params=['numba', 'torch'])
def backend(request):
    "Both solver backends: the compiled per-signal CPU kernels and the batched torch version (the GPU path)."
    return request.param


# ---------------------------------------------------------------- OMP
@pytest.mark.parametrize('mode', ['fixed', 'tol'])
def test_omp_float64_equals_sklearn(mode, backend):
    D, A, X = problem()
    kw = dict(n_nonzero=10) if mode == 'fixed' else dict(tol=0.05 ** 2 * 60)
    ref = omp_sklearn(D.double(), X.double(), **kw)
    ours = omp(D.double(), X.double(), **kw, backend=backend)
    assert same_support(ours, ref).all()
    assert (ours - ref).abs().max() < 1e-10
    if mode == 'tol':   # every signal stops at the first support whose residual is within tol
        res = (X.double() - ours @ D.double().T).square().sum(1)
        assert (res <= kw['tol'] + 1e-9).all()
        assert (ours != 0).sum(1).float().std() > 0       # supports of different sizes


@pytest.mark.parametrize('mode', ['fixed', 'tol'])
def test_omp_float32_matches_sklearn(mode, backend):
    "float32: near ties may send a rare signal down another greedy path; the rest agree to float32 precision."
    D, A, X = problem(m=100, n=200, s=20, B=300, seed=3)
    kw = dict(n_nonzero=20) if mode == 'fixed' else dict(tol=0.05 ** 2 * 100)
    ref = omp_sklearn(D.double(), X.double(), **kw)
    ours = omp(D, X, **kw, backend=backend)
    assert ours.dtype == torch.float32
    same = same_support(ours, ref)
    assert same.float().mean() >= 0.98
    assert (ours[same].double() - ref[same]).abs().max() < 1e-4


def test_omp_pure_noise_and_chunks(backend):
    "Signals without sparse structure (many near-equal correlations), small chunks, float64: still identical."
    D = gaussian_dictionary(50, 100, seed=7)
    X = torch.randn(64, 50, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    for kw in (dict(n_nonzero=30), dict(tol=10.0)):
        ref = omp_sklearn(D.double(), X, **kw)
        ours = omp(D.double(), X, chunk=7, **kw, backend=backend)
        assert same_support(ours, ref).all() and (ours - ref).abs().max() < 1e-9


def test_omp_tolerance_long_supports(backend):
    "Tolerance mode with supports that outgrow the initial buffers and finish at many different steps."
    D = gaussian_dictionary(100, 150, seed=5)
    X = torch.randn(80, 100, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    X = X * torch.linspace(0.3, 1.5, 80, dtype=torch.float64).unsqueeze(1)
    ref = omp_sklearn(D.double(), X, tol=5.0)
    ours = omp(D.double(), X, tol=5.0, chunk=32, backend=backend)
    k = (ref != 0).sum(1)
    assert k.max() > 48 and k.min() < 30
    assert same_support(ours, ref).all() and (ours - ref).abs().max() < 1e-9


def test_omp_recovers_and_edge_cases(backend):
    D, A, _ = problem(noise=0.0)
    X = A @ D.T
    assert same_support(omp(D, X, n_nonzero=10, backend=backend), A).float().mean() > 0.95
    Z = omp(D, torch.zeros(3, 60), n_nonzero=5, backend=backend)           # zero signals: zero codes (scikit-learn stops too)
    assert (Z == 0).all()
    assert (omp(D, X[:2], tol=1e9, backend=backend) != 0).sum(1).eq(1).all()   # tolerance met at once: one atom, like scikit-learn
    assert omp(D, X[:0], n_nonzero=3, backend=backend).shape == (0, 120)


# ---------------------------------------------------------------- LASSO
@pytest.mark.parametrize('beta', [0.025, 0.2])
def test_lasso_reaches_sklearn_optimum(beta, backend):
    D, A, X = problem(B=60)
    X64, D64 = X.double(), D.double()
    ref = lasso_sklearn(D64, X64, beta, tol=1e-12, max_iter=200_000)
    ours = lasso(D64, X64, beta, backend=backend)
    P_ref, P_ours = lasso_objective(D64, X64, ref, beta), lasso_objective(D64, X64, ours, beta)
    assert ((P_ours - P_ref) / P_ref).max() < 1e-9              # never worse than scikit-learn run to tol 1e-12
    assert ((P_ref - P_ours) / P_ref).max() < 1e-6              # and scikit-learn converges to the same value
    assert lasso_gap(D64, X64, ours, beta).max() < 1e-10
    assert lasso_gap(D64, X64, ref, beta).max() < 1e-5
    big = ref.abs() > 1e-6
    assert ((ours != 0) == big).float().mean() > 0.999          # same support (up to sklearn's tiny residual entries)


def test_lasso_float32_certified_and_matches_spams(backend):
    spams = pytest.importorskip('spams')
    D, A, X = problem(m=100, n=200, s=20, B=200, noise=0.0, seed=11)
    beta = 0.01
    ours = lasso(D, X, beta, backend=backend)
    assert ours.dtype == torch.float32
    assert lasso_gap(D, X, ours, beta).max() <= 1e-6
    ref = spams.lasso(np.asfortranarray(X.double().numpy().T), D=np.asfortranarray(D.double().numpy()),
                      lambda1=beta, lambda2=0., mode=2)
    ref = torch.from_numpy(np.asarray(ref.todense()).T.copy())
    assert same_support(ours, ref).float().mean() >= 0.99
    assert (ours.double() - ref).abs().max() < 1e-4


def test_lasso_gap_is_a_certificate():
    "The gap bounds the true relative suboptimality of any estimate, and is ~0 only at the optimum."
    D, A, X = problem(B=40)
    D64, X64 = D.double(), X.double()
    beta = 0.05
    opt = lasso(D64, X64, beta)
    P_star = lasso_objective(D64, X64, opt, beta)
    g = torch.Generator().manual_seed(0)
    for scale in (1e-4, 1e-2, 1.0):
        est = opt + scale * torch.randn(opt.shape, generator=g, dtype=torch.float64) * (opt != 0)
        P = lasso_objective(D64, X64, est, beta)
        gap = lasso_gap(D64, X64, est, beta)
        assert ((P - P_star) / P <= gap + 1e-12).all()
        assert (gap > 0).all()
    assert lasso_gap(D64, X64, torch.zeros_like(opt), beta).min() > 0.01


def test_lasso_active_set_corrections_and_warning(backend):
    "The float64 corrections repair a wrong support; a path cut short by max_iter is repaired or reported."
    from sparsadv.coding.lasso import _polish
    D, A, X = problem(B=30)
    D64, X64, beta = D.double(), X.double(), 0.05
    opt = lasso(D64, X64, beta, backend=backend)
    Z = torch.sign(opt)
    small = torch.where(opt != 0, opt.abs(), torch.full_like(opt, float('inf'))).argmin(1)
    Zbad = Z.clone(); Zbad[torch.arange(30), small] = 0                 # drop one atom of every support
    Zbad[:, 0] = torch.where(Z[:, 0] == 0, 1.0, Zbad[:, 0])            # and force a wrong one in
    Abad = opt.clone(); Abad[Zbad == 0] = 0; Abad[:, 0] = torch.where(Z[:, 0] == 0, 1e-3, Abad[:, 0])
    fixed, gap, ok = _polish(D64, X64, Abad, Zbad, beta)
    assert ok.all() and (fixed - opt).abs().max() < 1e-9 and gap.max() < 1e-10
    with pytest.warns(SparsadvNumericWarning, match="did not reach"):
        lasso(D64, X64, 0.01, max_iter=3, backend=backend)


def test_lasso_edge_cases(backend):
    D, A, X = problem(B=20)
    lam_max = (X @ D).abs().amax(1)
    Z = lasso(D, X, float(lam_max.max()) * 1.01, backend=backend)          # beta above ||D^T x||_inf: the zero code is optimal
    assert (Z == 0).all()
    assert (lasso(D, torch.zeros(2, 60), 0.1, backend=backend) == 0).all()
    one = lasso(D.double(), X[:1].double(), 0.05, chunk=1, backend=backend)
    assert lasso_gap(D.double(), X[:1].double(), one, 0.05).item() < 1e-10


def test_beta_alpha_conversion():
    assert sklearn_alpha_to_beta(1e-4, 250) == pytest.approx(0.025)
    assert sklearn_alpha_to_beta(5e-5, 250) == pytest.approx(0.0125)
    assert beta_to_sklearn_alpha(sklearn_alpha_to_beta(3e-4, 40), 40) == pytest.approx(3e-4)
    # the conversion is what makes the two objectives equal: m * sklearn objective == eq. 1 objective
    D, A, X = problem(B=5)
    beta = 0.1
    a = lasso_sklearn(D.double(), X.double(), beta, tol=1e-12, max_iter=100_000)
    m = D.shape[0]
    sk_obj = ((X.double() - a @ D.double().T).square().sum(1) / (2 * m) + beta_to_sklearn_alpha(beta, m) * a.abs().sum(1))
    assert torch.allclose(m * sk_obj, lasso_objective(D.double(), X.double(), a, beta))


def test_half_precision_rejected():
    "Half-precision signals or dictionaries are refused with a dtype message naming the argument (float32/float64 work)."
    D, A, X = problem(m=30, n=60, s=3, B=20, noise=0.0)
    for dt in (torch.float16, torch.bfloat16):
        with pytest.raises(TypeError, match=r'X has dtype .*supported: torch.float32, torch.float64'):
            omp(D, X.to(dt), n_nonzero=3)
        with pytest.raises(ValueError, match='D has dtype'):
            lasso(D.to(dt), X, 0.05)
    assert omp(D, X, n_nonzero=3, backend='torch').dtype == torch.float32


def test_backends_agree():
    "The compiled kernels and the batched torch version walk the same paths: same supports, same values in float64."
    D, A, X = problem(m=80, n=160, s=12, B=150, seed=21)
    D64, X64 = D.double(), X.double()
    for kw in (dict(n_nonzero=12), dict(tol=0.05 ** 2 * 80)):
        a, b = omp(D64, X64, backend='numba', **kw), omp(D64, X64, backend='torch', **kw)
        assert same_support(a, b).all() and (a - b).abs().max() < 1e-10
    for beta in (0.01, 0.1):
        a, b = lasso(D64, X64, beta, backend='numba'), lasso(D64, X64, beta, backend='torch')
        assert same_support(a, b).all() and (a - b).abs().max() < 1e-10


# ---------------------------------------------------------------- error split
def test_error_split_properties():
    g = torch.Generator().manual_seed(0)
    a = sparse_codes(100, 50, 5, seed=1)
    est = sparse_codes(100, 50, 7, seed=2) + a * (torch.rand(100, 50, generator=g) < 0.5)
    e = error_split(a, est)
    assert set(e) == {'excess', 'missing', 'in_support', 'total'} and all(v.shape == (100,) for v in e.values())
    assert torch.allclose(e['excess'] + e['missing'] + e['in_support'], e['total'], atol=1e-5)
    assert torch.allclose(e['total'], (est - a).square().sum(1))
    assert all((v >= 0).all() for v in e.values())


def test_error_split_edge_cases():
    a = torch.tensor([[1.0, 0.0, -2.0, 0.0], [0.0, 3.0, 0.0, 0.0]])
    e = error_split(a, torch.zeros_like(a))                   # all-zero estimate: everything is missing
    assert torch.equal(e['missing'], torch.tensor([5.0, 9.0])) and (e['excess'] == 0).all() and (e['in_support'] == 0).all()
    assert all((v == 0).all() for v in error_split(a, a.clone()).values())   # exact recovery
    disjoint = torch.tensor([[0.0, 0.5, 0.0, 1.0], [2.0, 0.0, 0.0, 0.0]])
    e = error_split(a, disjoint)
    assert torch.equal(e['excess'], torch.tensor([1.25, 4.0])) and torch.equal(e['missing'], torch.tensor([5.0, 9.0]))
    assert (e['in_support'] == 0).all() and torch.equal(e['total'], torch.tensor([6.25, 13.0]))
    e = error_split(a, torch.tensor([[1.5, 0.0, -2.0, 0.0], [0.0, 1.0, 0.0, 0.0]]))   # same support
    assert torch.equal(e['in_support'], torch.tensor([0.25, 4.0])) and (e['excess'] == 0).all() and (e['missing'] == 0).all()


# ---------------------------------------------------------------- bad input
def test_bad_input():
    D, A, X = problem(B=4)
    cases = [
        (lambda: omp(D[0], X, n_nonzero=3), 'D'),
        (lambda: omp(D, X[:, :10], n_nonzero=3), 'X must have shape'),
        (lambda: omp(D, X[0], n_nonzero=3), 'X must be a batch'),
        (lambda: omp(D, X * float('nan'), n_nonzero=3), 'X contains NaN'),
        (lambda: omp(D * float('inf'), X, n_nonzero=3), 'D contains NaN'),
        (lambda: omp(D, X), 'n_nonzero'),
        (lambda: omp(D, X, n_nonzero=3, tol=0.1), 'exactly one'),
        (lambda: omp(D, X, n_nonzero=0), 'n_nonzero=0'),
        (lambda: omp(D, X, n_nonzero=121), 'n_nonzero=121'),
        (lambda: omp(D, X, tol=-0.5), 'tol=-0.5'),
        (lambda: omp(2 * D, X, n_nonzero=3), 'unit-norm'),
        (lambda: omp(D, X, n_nonzero=3, backend='cuda'), "backend='cuda' must be"),
        (lambda: lasso(D, X, 0.1, backend='fast'), "backend='fast' must be"),
        (lambda: omp(D.half(), X.half(), n_nonzero=3, backend='numba'), 'D has dtype torch.float16'),
        (lambda: lasso(D, X, 0.0), 'beta=0'),
        (lambda: lasso(D, X, -1.0), 'beta=-1'),
        (lambda: lasso(D, X, 0.1, tol=-1.0), 'tol'),
        (lambda: lasso(D * 3, X, 0.1), 'unit-norm'),
        (lambda: lasso(D, X.T, 0.1), 'X must have shape'),
        (lambda: lasso_gap(D, X, A[:, :5], 0.1), 'A must have shape'),
        (lambda: error_split(A, A[:, :5]), 'a_hat'),
        (lambda: error_split(A[0], A[0]), 'a_true'),
        (lambda: error_split(A, A * float('nan')), 'a_hat contains NaN'),
        (lambda: sklearn_alpha_to_beta(0.0, 250), 'alpha'),
    ]
    for fn, msg in cases:
        with pytest.raises(ValueError, match=msg):
            fn()
