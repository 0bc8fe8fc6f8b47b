"""The package's import layers (.importlinter): a module imports only from layers below its own. The contract is
checked on the real package, and shown able to fail on a small package with one upward import."""
import shutil, subprocess, sys, textwrap
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which('lint-imports') or str(Path(sys.executable).with_name('lint-imports'))


def _lint(cwd: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT, '--config', str(config), '--no-cache'], cwd=cwd, capture_output=True, text=True,
                          env={'PYTHONPATH': str(cwd), 'PATH': str(Path(sys.executable).parent)})


def test_package_keeps_its_layers():
    r = _lint(ROOT, ROOT / '.importlinter')
    assert r.returncode == 0, r.stdout + r.stderr
    assert '1 kept, 0 broken' in r.stdout


def test_contract_lists_every_subpackage():
    "A new subpackage must be placed in a layer, or the contract would not check it."
    text = (ROOT / '.importlinter').read_text()
    subs = {p.name for p in (ROOT / 'sparsadv').iterdir() if p.is_dir() and (p / '__init__.py').exists()}
    assert subs and all(f'sparsadv.{s}\n' in text for s in subs), subs


def test_an_upward_import_breaks_the_contract(tmp_path):
    pkg = tmp_path / 'toy'
    for sub, body in (('core', 'from toy.cli import main\n'), ('cli', 'def main(): pass\n')):
        (pkg / sub).mkdir(parents=True); (pkg / sub / '__init__.py').write_text(body)
    (pkg / '__init__.py').write_text('')
    cfg = tmp_path / '.importlinter'
    cfg.write_text(textwrap.dedent("""\
        [importlinter]
        root_package = toy
        [importlinter:contract:layers]
        name = layers
        type = layers
        layers =
            toy.cli
            toy.core
        """))
    r = _lint(tmp_path, cfg)
    assert r.returncode != 0 and 'toy.core -> toy.cli' in r.stdout, r.stdout + r.stderr
