"""The smoke profile keeps the paper profile's shapes (it exists to run the paper's code paths) and only shrinks counts."""
from sparsadv.core.config import PROFILES
from sparsadv.experiments.universal import fig7_settings

SHAPES = ('m', 'n', 's', 'lista_layers', 'image_dataset', 'convlista_filters', 'classifier', 'pgd_steps', 'pgd_step_size')


def test_smoke_has_the_paper_shapes():
    smoke, paper = PROFILES['smoke'], PROFILES['paper']
    assert {k: getattr(smoke, k) for k in SHAPES} == {k: getattr(paper, k) for k in SHAPES}
    for k in ('lista_steps', 'n_test', 'n_attack_images', 'classifier_epochs', 'convlista_epochs'):
        assert getattr(smoke, k) < getattr(paper, k), k          # counts shrink
    s, p = fig7_settings('smoke'), fig7_settings('paper')
    assert (s['task_a'], s['task_b'], s['finetune_a'], s['finetune_b']) == (p['task_a'], p['task_b'], p['finetune_a'], p['finetune_b'])


def test_fake_data_are_used_only_at_smoke(tmp_path, monkeypatch):
    "The registry points the image loaders at the fake files during a smoke run only, and restores the setting."
    import os
    from sparsadv.experiments.registry import _smoke_data
    monkeypatch.setenv('SPARSADV_CACHE', str(tmp_path))
    monkeypatch.setenv('SPARSADV_DATA', '/real/data')
    with _smoke_data(PROFILES['cpu']): assert os.environ['SPARSADV_DATA'] == '/real/data'
    with _smoke_data(PROFILES['smoke']):
        assert os.environ['SPARSADV_DATA'].endswith('data-smoke')
        assert (tmp_path / 'data-smoke' / 'cifar-10-batches-py' / 'SPARSADV_FAKE_DATA.json').is_file()
    assert os.environ['SPARSADV_DATA'] == '/real/data'
