"""The checkpoint cache (sparsadv.core.cache.cached) and the training loop (sparsadv.models.train.fit): a hit is
checked, not trusted; one writer per key; resume is exact; the caller's random state is left alone."""
import json, random, subprocess, sys, warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sparsadv.core.cache import (CACHE_FORMAT, SparsadvCacheWarning, cache_dir, cache_key, cached, provenance,
                                 rng_isolated, save_atomic)
from sparsadv.models.lista import LISTA, get_lista, lista_config, train_lista
from sparsadv.data.synthetic import gaussian_dictionary


def _state():
    return random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()


def _same_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and torch.equal(a[2], b[2])


def _toy(calls):
    def build(): return torch.nn.Linear(4, 3)        # draws from the global generator, as nn layers do
    def train(model, ckpt):
        calls.append(str(ckpt))
        with torch.no_grad(): model.weight.add_(torch.randn(model.weight.shape))   # and so does this training
        return {'steps': 1}
    return build, train


def test_hit_miss_and_key():
    calls = []
    build, train = _toy(calls)
    m1, e1 = cached('toy', {'a': 1}, build, train, seed=0)
    m2, e2 = cached('toy', {'a': 1}, build, train, seed=0)
    assert len(calls) == 1 and e1['key'] == e2['key'] and torch.equal(m1.weight, m2.weight)
    assert e1['key'] == cache_key('toy', {'a': 1}) != cache_key('toy', {'a': 2}) != cache_key('other', {'a': 1})
    assert e2['provenance']['package'] == provenance()['package'] and e2['config'] == {'a': 1}
    with pytest.raises(FileNotFoundError, match='train=True'):
        cached('toy', {'a': 3}, build, train, train_ok=False)
    with pytest.raises(ValueError, match='kind='):
        cached('no such/kind', {}, build, train)


@pytest.mark.parametrize('damage', ['truncated', 'other-config', 'other-format', 'other-weights'])
def test_unusable_entry_is_set_aside_and_retrained(damage):
    calls = []
    build, train = _toy(calls)
    cfg = {'damage': damage}
    _, e = cached('toy', cfg, build, train, seed=0)
    path = Path(e['path'])
    if damage == 'truncated':
        path.write_bytes(path.read_bytes()[:100])
    else:
        entry = torch.load(path, weights_only=True)
        if damage == 'other-config': entry['config'] = {'damage': 'x'}
        if damage == 'other-format': entry['format'] = CACHE_FORMAT - 1
        if damage == 'other-weights': entry['model'] = {'weight': torch.zeros(5, 5)}
        save_atomic(entry, path)
    with pytest.warns(SparsadvCacheWarning, match=path.name) as w:
        _, e2 = cached('toy', cfg, build, train, seed=0)
    assert len(calls) == 2 and e2['path'] == str(path) and torch.load(path, weights_only=True)['config'] == cfg
    assert len(list(path.parent.glob(path.name + '.bad-*'))) == 1
    if damage == 'other-config': assert 'another configuration' in str(w[0].message)


def test_caller_random_state_is_untouched():
    calls = []
    build, train = _toy(calls)
    for _ in range(2):   # a training run, then a load from the cache
        before = _state()
        cached('toy', {'rng': 1}, build, train)
        assert _same_state(before, _state())
    assert len(calls) == 1
    before = _state()
    get_lista('quick', steps=5, progress=False); get_lista('quick', steps=5, progress=False)
    assert _same_state(before, _state())


def test_rng_isolated_restores_after_an_error():
    before = _state()
    with pytest.raises(RuntimeError):
        with rng_isolated(seed=1):
            torch.rand(3); np.random.rand(); random.random(); raise RuntimeError
    assert _same_state(before, _state())


def test_resume_is_bit_exact_and_refuses_other_settings(tmp_path):
    D = gaussian_dictionary(20, 40, seed=0)
    kw = dict(s=3, steps=30, batch=16, lr=3e-3, seed=1, progress=False)
    full = LISTA(D, K=3); h_full = train_lista(full, eval_every=10, **kw)
    ck = tmp_path / 'run.ckpt'
    part = LISTA(D, K=3); train_lista(part, eval_every=10, ckpt_path=ck, ckpt_every=7, stop_after=13, **kw)
    assert torch.load(ck, weights_only=True)['step'] == 13
    resumed = LISTA(D, K=3); h_res = train_lista(resumed, eval_every=10, ckpt_path=ck, ckpt_every=7, **kw)
    assert all(torch.equal(p, q) for p, q in zip(full.state_dict().values(), resumed.state_dict().values()))
    assert h_res['train_loss'] == h_full['train_loss'] and h_res['step'] == [10, 20, 30]
    part2 = LISTA(D, K=3); train_lista(part2, eval_every=10, ckpt_path=ck, stop_after=5, **kw)
    with pytest.raises(ValueError, match=r"differs in \['lr'\]"):
        train_lista(LISTA(D, K=3), eval_every=10, ckpt_path=ck, **dict(kw, lr=1e-3))


def test_corrupt_checkpoint_is_set_aside(tmp_path):
    D = gaussian_dictionary(20, 40, seed=0)
    ck = tmp_path / 'run.ckpt'; ck.write_bytes(b'\x00' * 10)
    with pytest.warns(SparsadvCacheWarning, match='run.ckpt'):
        h = train_lista(LISTA(D, K=2), s=3, steps=4, batch=8, ckpt_path=ck, progress=False)
    assert h['steps'] == 4 and list(tmp_path.glob('run.ckpt.bad-*'))


TRAINER = """
import sys, time, torch, json
from sparsadv.core.cache import cached
def build(): return torch.nn.Linear(2, 2)
def train(model, ckpt):
    print('TRAINED', flush=True); time.sleep(1.0)
    return {'steps': 1}
m, e = cached('race', {'k': 1}, build, train, seed=0)
print(json.dumps(m.weight.tolist()))
"""


def test_two_processes_training_one_key_train_once(tmp_path):
    "The second process waits on the key's lock, then loads what the first one saved."
    env = dict(__import__('os').environ, SPARSADV_CACHE=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, '-c', TRAINER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    assert sum(o[0].count('TRAINED') for o in outs) == 1
    assert len({o[0].strip().splitlines()[-1] for o in outs}) == 1   # both return the same weights
