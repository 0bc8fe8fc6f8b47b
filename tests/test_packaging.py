"""Packaging: a built wheel carries every module of the package (subpackages included); the requirements are declared
once; the core install (no extras) imports every module and runs the CLI and the synthetic figures."""
import shutil, subprocess, sys, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_has_every_module(tmp_path):
    src = tmp_path / 'src'   # a copy, so that setuptools' build folders are not left in the working tree
    shutil.copytree(ROOT / 'sparsadv', src / 'sparsadv', ignore=shutil.ignore_patterns('__pycache__'))
    for f in ('pyproject.toml', 'README.md'): shutil.copy(ROOT / f, src / f)
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(tmp_path),
                        str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wheel, = tmp_path.glob('sparsadv-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / 'sparsadv').rglob('*.py')}
    assert len(modules) > 20 and modules <= names, sorted(modules - names)


def _toml():
    import tomllib
    return tomllib.loads((ROOT / 'pyproject.toml').read_text())


def test_one_list_of_requirements():
    "settings.ini (nbdev) and pyproject.toml (pip) declare the same core dependencies; `all` is every extra but dev."
    import configparser
    cfg = configparser.ConfigParser(); cfg.read(ROOT / 'settings.ini')
    proj = _toml()['project']
    assert sorted(cfg['DEFAULT']['requirements'].split()) == sorted(proj['dependencies'])
    extras = proj['optional-dependencies']
    union = {r for k, v in extras.items() if k not in ('all', 'dev') for r in v}
    assert set(extras['all']) == union and len(extras['all']) == len(union)


def test_require_names_declared_extras():
    "Every optional package that `require` knows is declared in the extra its error message names."
    from sparsadv.core.checks import OPTIONAL
    extras = _toml()['project']['optional-dependencies']
    name = lambda req: req.split('>')[0].split('=')[0].split('<')[0].strip()
    for module, (extra, pypi) in OPTIONAL.items():
        if extra == 'autoattack': continue        # installed with --no-deps, as its error says
        assert pypi in {name(r) for r in extras[extra]}, (module, extra)


CORE_ONLY = r'''
import sys
for m in {blocked!r}: sys.modules[m] = None           # as if only `pip install sparsadv` had run
import importlib, pkgutil, os, tempfile
os.environ['SPARSADV_CACHE'] = tempfile.mkdtemp(); os.environ['SPARSADV_PROGRESS'] = '0'
import sparsadv
for mod in pkgutil.walk_packages(sparsadv.__path__, 'sparsadv.'):
    importlib.import_module(mod.name)
from sparsadv.cli import main
for argv in (['--help'], ['list']):
    try: main(argv)
    except SystemExit as e: assert e.code == 0, argv
import torch
from sparsadv.analysis.metrics import ssim
from sparsadv.data.images import load_images
from sparsadv.attacks.autoattack import autoattack
for call, extra in ((lambda: ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16)), "sparsadv[images]"),
                    (lambda: load_images('mnist5k', 'train', n=4), "sparsadv[images]"),
                    (lambda: autoattack(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)), torch.rand(2, 1, 2, 2), eps=0.1), "--no-deps torchattacks")):
    try: call(); raise AssertionError('no ImportError')
    except ImportError as e: assert extra in str(e), str(e)
from sparsadv.experiments.synthetic import run_fig1
r = run_fig1('quick')
assert len(r['claims']) > 5
print('CORE OK')
'''


def test_core_install_runs_without_extras():
    """With every optional package unimportable: every module imports, the CLI answers, Fig 1 runs, and the image data,
    SSIM and AutoAttack say which extra is missing."""
    from sparsadv.core.checks import OPTIONAL
    r = subprocess.run([sys.executable, '-c', CORE_ONLY.format(blocked=sorted(OPTIONAL))], capture_output=True, text=True,
                       cwd=ROOT, timeout=600)
    assert r.returncode == 0 and 'CORE OK' in r.stdout, r.stdout[-2000:] + r.stderr[-4000:]


def test_repository_url_in_one_setting():
    "REPO_URL, settings.ini, _config.yml, CITATION.cff, every Colab badge and setup cell agree (book/set_repo.py)."
    sys.path.insert(0, str(ROOT / 'book'))
    import set_repo
    assert set_repo.disagreements() == []
    # the check can fail: another URL disagrees everywhere
    assert len(set_repo.disagreements('https://github.com/someone/else')) > 38
