"""The GPU cost estimate (sparsadv.gpu_cost): measured FLOPs against counts by hand, the tables' sums, the scaling with the
assumed rates, and clear errors for bad arguments. The networks are measured only where a test needs it (LISTA, one
ConvLISTA, a toy layer); the table tests run on synthetic measurements, so they take a fraction of a second."""
import math

import pytest
import torch

from sparsadv import gpu_cost as gc
from sparsadv.models.classifiers import classifier_config
from sparsadv.models.lista import lista_config
from sparsadv.models.convlista import convlista_config


def _fake_nets(scale: float = 1.0) -> dict:
    "Synthetic measurements of every network: the same made-up numbers for each (per example)."
    return {k: dict(key=k, what=k, batch=2, params=1000, param_bytes=4000.0, buffer_bytes=100.0, optimizer='Adam',
                    optimizer_states=2, flops={w: scale * 1e9 for w in gc.WORK},
                    saved_bytes={w: 1e6 for w in gc.WORK}, largest_bytes={w: 1e5 for w in gc.WORK})
            for k in gc.NETWORKS}


def _rows_of(table) -> list[dict]:
    return [dict(zip(table.columns, v)) for v in table.values]


def test_lista_flops_match_the_count_by_hand():
    "Forward 2(Knm + (K-1)n^2) per signal; training step 2(2Knm + 3(K-1)n^2) + 2mn (drawing x = D a); attack 2x forward."
    r = gc.measure_network('LISTA', batch=2)
    c = lista_config('paper'); K, n, m = c['K'], c['n'], c['m']
    assert r['flops']['forward'] == pytest.approx(2 * (K * n * m + (K - 1) * n * n), rel=1e-9)
    # the hand-written backward's in-place addmm_ is counted: without it the step would be short by (K-1) n^2 x 2
    assert r['flops']['training step'] == pytest.approx(2 * (2 * K * n * m + 3 * (K - 1) * n * n) + 2 * m * n, rel=1e-9)
    assert r['flops']['attack step'] == pytest.approx(2 * r['flops']['forward'], rel=1e-9)
    assert r['params'] == K * n * m + (K - 1) * n * n + K and r['optimizer_states'] == 2


def test_convlista_flops_match_the_count_by_hand():
    "ConvLISTA's forward is 2K + 2 convolutions of F filters k x k over C channels, 2 C F k^2 H W FLOPs each."
    r = gc.measure_network('ConvLISTA CIFAR-10', batch=2)
    c = convlista_config('paper', dataset='cifar10')
    conv = 2 * 3 * c['filters'] * c['kernel'] ** 2 * 32 * 32
    assert r['flops']['forward'] == pytest.approx((2 * c['K'] + 2) * conv, rel=1e-9)
    assert r['flops']['code'] == pytest.approx((2 * c['K'] + 1) * conv, rel=1e-9)
    assert r['saved_bytes']['training step'] > 0


def test_measure_pass_counts_a_linear_layer():
    """One training step of a bias-free linear layer (10 -> 5) on 4 inputs: 2 x 4 x 10 x 5 forward, as much again for the
    weight gradient (no input gradient); autograd saves the input (4 x 10 float32), not the weight."""
    lin = torch.nn.Linear(10, 5, bias=False)
    x = torch.randn(4, 10)
    r = gc.measure_pass(lin, lambda: lin(x).sum().backward(), 'training step', 4)
    assert r['flops'] == 2 * (2 * 4 * 10 * 5)
    assert r['saved_bytes'] == 4 * 10 * 4 and r['largest_bytes'] == 4 * 10 * 4
    a = gc.measure_pass(lin, lambda: lin(x.clone().requires_grad_(True)).sum().backward(), 'attack step', 4)
    assert a['flops'] == 2 * (2 * 4 * 10 * 5) and lin.weight.requires_grad   # input gradient only; the weight thawed after


def test_totals_are_sums_of_components():
    table, rows = gc.gpu_cost_table('paper', nets=_fake_nets())
    summary = _rows_of(table)
    figures = [r['figure'] for r in summary[:-1]]
    assert figures == [f'Fig {k}' for k in range(1, 8)]
    for s in summary[:-1]:
        rs = [r for r in rows if r['figure'] == s['figure']]
        assert s['GPU work (PFLOP)'] * 1e15 == pytest.approx(sum(r['flops'] for r in rs if r['device'] == 'GPU'))
        assert s['CPU work (PFLOP)'] * 1e15 == pytest.approx(sum(r['flops'] for r in rs if r['device'] == 'CPU'))
        for g in ('T4', 'A100'):
            assert s[f'{g}: hours'] * 3600 == pytest.approx(sum(r['seconds'][g] for r in rs))
        mem = max(r['memory_bytes'] for r in rs if r['memory_bytes'] is not None)
        assert s['peak GPU memory (GB)'] * 1e9 == pytest.approx(mem + gc.CUDA_OVERHEAD_BYTES)
    # the last row trains each cached network once: less than the sum of the figures, exactly the deduplicated sum
    first = {}
    for r in rows:
        if r['trains']: first.setdefault(r['trains'], r['figure'])
    once = sum(r['flops'] for r in rows if not r['trains'] or first[r['trains']] == r['figure'])
    last = summary[-1]
    assert (last['GPU work (PFLOP)'] + last['CPU work (PFLOP)']) * 1e15 == pytest.approx(once)
    assert once < sum(r['flops'] for r in rows)
    assert sum(r['trains'] == 'LISTA net 1' and r['work'] == 'training step' for r in rows) == 3   # Figs 1, 5, 6
    for r in rows: assert r['flops'] == pytest.approx(r['flops_per_example'] * r['examples'])


def test_time_scales_inversely_with_the_rate():
    nets = _fake_nets()
    gpu = lambda rate: {'X': dict(fp32_flops=rate, memory_bytes=16e9)}
    _, a = gc.gpu_cost_table('paper', gpus=gpu(1e13), nets=nets)
    _, b = gc.gpu_cost_table('paper', gpus=gpu(2e13), nets=nets)
    _, c = gc.gpu_cost_table('paper', gpus=gpu(1e13), nets=nets, utilisation=gc.UTILISATION / 2)
    _, d = gc.gpu_cost_table('paper', gpus=gpu(1e13), nets=nets, cpu_flops=2 * gc.CPU_FLOPS)
    assert {r['device'] for r in a} == {'GPU', 'CPU'}
    for ra, rb, rc, rd in zip(a, b, c, d):
        if ra['device'] == 'GPU':
            assert rb['seconds']['X'] == pytest.approx(ra['seconds']['X'] / 2)
            assert rc['seconds']['X'] == pytest.approx(ra['seconds']['X'] * 2)
            assert rd['seconds']['X'] == pytest.approx(ra['seconds']['X'])
            assert ra['seconds']['X'] == pytest.approx(ra['flops'] / (1e13 * gc.UTILISATION))
        else:
            assert rb['seconds']['X'] == pytest.approx(ra['seconds']['X']) == pytest.approx(rc['seconds']['X'])
            assert rd['seconds']['X'] == pytest.approx(ra['seconds']['X'] / 2)


def test_counts_follow_the_code_settings():
    "The WRN-28-10's training count is the classifier configuration's: epochs x full batches x batch size."
    _, rows = gc.gpu_cost_table('paper', nets=_fake_nets())
    cfg = classifier_config('paper')
    wrn = next(r for r in rows if r['figure'] == 'Fig 2' and r['component'] == 'WRN-28-10 CIFAR-10: training')
    assert wrn['examples'] == cfg['epochs'] * (50_000 // cfg['batch']) * cfg['batch'] and wrn['device'] == 'GPU'
    lc = lista_config('paper')
    assert next(r for r in rows if r['component'] == 'LISTA net 1: training')['examples'] == lc['steps'] * lc['batch']
    # the smoke profile has the paper's shapes and tiny counts: the same components, far less work
    _, small = gc.gpu_cost_table('smoke', nets=_fake_nets())
    assert [r['component'] for r in small] == [r['component'] for r in rows]
    assert sum(r['flops'] for r in small) < 1e-3 * sum(r['flops'] for r in rows)


def test_work_counts():
    assert gc.autoattack_work(100, 5000, 10) == (1900, 5900)
    assert gc.uap_work(2000, 5, 100) == (1_000_000, 2000 + 5 * 2000 * 5)
    assert gc.targeted_uap_work(2000, 20, 10) == (400_000, 10 * (2000 + 20 * 2000 * 5))


def test_memory_model():
    net = _fake_nets()['WRN-28-10 CIFAR-10']
    assert gc.component_memory(net, 'training step', 128) == pytest.approx(4000 * 4 + 100 + 1e6 * 128)   # Adam: 2 states
    assert gc.component_memory(net, 'attack step', 256) == pytest.approx(4000 + 100 + 1e6 * 256)
    assert gc.component_memory(net, 'forward', 512, extra_bytes=7.0) == pytest.approx(4000 + 100 + 7 + 3 * 1e5 * 512)


@pytest.mark.parametrize('call, name', [
    (lambda n: gc.gpu_cost_table('nonesuch', nets=n), 'profile'),
    (lambda n: gc.gpu_cost_table('cpu', nets=n), 'profile'),
    (lambda n: gc.gpu_cost_table('paper', nets=n, utilisation=0), 'utilisation'),
    (lambda n: gc.gpu_cost_table('paper', nets=n, utilisation=1.5), 'utilisation'),
    (lambda n: gc.gpu_cost_table('paper', nets=n, cpu_flops=-1.0), 'cpu_flops'),
    (lambda n: gc.gpu_cost_table('paper', nets=n, gpus=('H200',)), 'gpus'),
    (lambda n: gc.gpu_cost_table('paper', nets=n, gpus=()), 'gpus'),
    (lambda n: gc.gpu_cost_table('paper', nets=n, gpus={'X': dict(fp32_flops=0, memory_bytes=1e9)}), 'fp32_flops'),
    (lambda n: gc.gpu_cost_table('paper', nets=n, gpus={'X': dict(fp32_flops=1e12)}), 'memory_bytes'),
    (lambda n: gc.gpu_cost_table('paper', nets={'LISTA': n['LISTA']}), 'nets'),
    (lambda n: gc.gpu_cost_table('paper', nets=[1, 2]), 'nets'),
    (lambda n: gc.measure_network('VGG'), 'key'),
    (lambda n: gc.measure_network('LISTA', batch=1), 'batch'),
    (lambda n: gc.measure_pass(None, lambda: None, 'backward', 2), 'work'),
    (lambda n: gc.components_table(gc.figure_components('paper', n), gpu='T4'), 'gpu'),
])
def test_bad_arguments_name_the_argument(call, name):
    with pytest.raises((ValueError, TypeError)) as e:
        call(_fake_nets())
    assert name in str(e.value)
