"""book/networks.py: the book's trained LISTAs kept in the repository are copied into an empty cache only while the code
that trains them is unchanged, and never over a network already cached."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'book'))
import networks  # noqa: E402


def test_save_then_seed(tmp_path, monkeypatch):
    from sparsadv.models.lista import get_lista
    monkeypatch.setenv('SPARSADV_CACHE', str(tmp_path / 'cache'))
    kws = networks.book_listas('quick')
    trained = {label: get_lista('quick', progress=False, **kw) for label, kw in kws.items()}
    kept = tmp_path / 'kept'
    assert sorted(networks.save('quick', kept)) == sorted(kws)
    index = json.loads((kept / 'quick' / 'index.json').read_text())
    assert set(index['code']) == set(networks.CODE) and all(index['code'].values())
    # an empty cache: every network copied, and loading it needs no training (train=False) and gives the same weights
    monkeypatch.setenv('SPARSADV_CACHE', str(tmp_path / 'empty'))
    assert set(networks.seed('quick', kept).values()) == {'copied into the cache'}
    for label, kw in kws.items():
        net, info = get_lista('quick', train=False, **kw)
        assert all((a == b).all() for a, b in zip(net.state_dict().values(), trained[label][0].state_dict().values()))
        assert info['hist']['steps'] == trained[label][1]['hist']['steps']
    assert set(networks.seed('quick', kept).values()) == {'already in the cache'}
    # changed training code: nothing copied, the chapters train (the check can fail)
    monkeypatch.setenv('SPARSADV_CACHE', str(tmp_path / 'empty2'))
    index['code']['sparsadv.models.train'] = '0' * 16
    (kept / 'quick' / 'index.json').write_text(json.dumps(index))
    out = networks.seed('quick', kept)
    assert all('sparsadv.models.train' in v and v.startswith('not used') for v in out.values()), out
    with pytest.raises(FileNotFoundError):
        get_lista('quick', train=False, **kws['net1'])
    assert networks.seed('quick', tmp_path / 'nothing') == {}
