"""Point the project at its repository, or check that every place agrees: `python book/set_repo.py [URL]`.

The repository URL is one setting, `sparsadv.core.config.REPO_URL`; it also appears where tools read it: settings.ini
(`git_url`, `user`), _config.yml (`repository.url`), CITATION.cff (`repository-code`), and in every notebook the Colab
badge and the setup cell (`setup_cell_source`, which also pins the package version). With a URL this script writes all of
them (then run `make export`); without one it lists the places that disagree with REPO_URL (exit status 1 if any).
"""
from __future__ import annotations
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP_MARK = '# Setup on Colab'
OLD_SETUP_MARK = '# On Colab: install the package'
BADGE = re.compile(r'https://colab\.research\.google\.com/github/[^)\s]+?/blob/main/nbs/[^)\s]+\.ipynb')
GPU_METADATA = {'accelerator': 'GPU', 'colab': {'gpuType': 'T4', 'provenance': []}}


def _repo_path(url: str) -> str:
    m = re.fullmatch(r'https://github\.com/([\w.-]+/[\w.-]+?)/?', url)
    if not m: raise SystemExit(f"URL must look like https://github.com/OWNER/NAME, got {url!r}")
    return m.group(1)


def _setup_source(url: str) -> str:
    sys.path.insert(0, str(ROOT))
    from sparsadv.core.config import setup_cell_source
    return setup_cell_source(repo_url=url)


def _is_setup(cell) -> bool:
    src = ''.join(cell['source'])
    return cell['cell_type'] == 'code' and (src.startswith(SETUP_MARK) or OLD_SETUP_MARK in src)


def notebooks():
    return sorted((ROOT / 'nbs').glob('*.ipynb'))


def rewrite_notebook(path: Path, url: str, setup: str) -> bool:
    "Badge, setup cell (first code cell after the title) and GPU metadata of one notebook; True if it changed."
    text = path.read_text(); nb = json.loads(text)
    badge = f'https://colab.research.google.com/github/{_repo_path(url)}/blob/main/nbs/{path.name}'
    for c in nb['cells']:
        if c['cell_type'] == 'markdown':
            c['source'] = BADGE.sub(badge, ''.join(c['source'])).splitlines(True)
    setups = [c for c in nb['cells'] if _is_setup(c)]
    if not setups: raise SystemExit(f"{path.name}: no setup cell (a code cell starting with {SETUP_MARK!r})")
    for c in setups:
        c['source'] = setup.splitlines(True)
        c['metadata'] = {'tags': ['hide-input']}
    nb['metadata'].update(GPU_METADATA)
    new = json.dumps(nb, indent=1, ensure_ascii=False) + '\n'
    if new != text: path.write_text(new); return True
    return False


def write(url: str) -> None:
    path = _repo_path(url)
    ini = ROOT / 'settings.ini'; s = ini.read_text()
    s = re.sub(r'(?m)^git_url = .*$', f'git_url = {url}', s)
    s = re.sub(r'(?m)^user = .*$', f'user = {path.split("/")[0]}', s)
    ini.write_text(s)
    cfg = ROOT / '_config.yml'
    cfg.write_text(re.sub(r'(?m)^(  url: )https://github\.com/\S+$', rf'\g<1>{url}', cfg.read_text()))
    cff = ROOT / 'CITATION.cff'
    cff.write_text(re.sub(r'(?m)^repository-code: .*$', f'repository-code: "{url}"', cff.read_text()))
    nb0 = ROOT / 'nbs' / '00_core_config.ipynb'
    nb0.write_text(re.sub(r"REPO_URL = '[^']*'", f"REPO_URL = '{url}'", nb0.read_text()))
    setup = _setup_source(url)
    changed = [p.name for p in notebooks() if rewrite_notebook(p, url, setup)]
    print(f"repository set to {url}; notebooks changed: {len(changed)}. Now run `make export`.")


def disagreements(url: str | None = None) -> list[str]:
    "Every place whose repository URL, setup cell or GPU metadata differs from REPO_URL (or `url`)."
    sys.path.insert(0, str(ROOT))
    from sparsadv.core.config import REPO_URL
    url = url or REPO_URL
    path, out = _repo_path(url), []
    if f'git_url = {url}' not in (ROOT / 'settings.ini').read_text(): out.append('settings.ini git_url')
    if f'  url: {url}' not in (ROOT / '_config.yml').read_text(): out.append('_config.yml repository.url')
    if f'repository-code: "{url}"' not in (ROOT / 'CITATION.cff').read_text(): out.append('CITATION.cff repository-code')
    setup = _setup_source(url)
    for p in notebooks():
        nb = json.loads(p.read_text())
        badge = f'https://colab.research.google.com/github/{path}/blob/main/nbs/{p.name}'
        md = ''.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
        if badge not in md or any(b != badge for b in BADGE.findall(md)): out.append(f'{p.name}: Colab badge')
        setups = [c for c in nb['cells'] if _is_setup(c)]
        if len(setups) != 1 or ''.join(setups[0]['source']) != setup: out.append(f'{p.name}: setup cell')
        if any(nb['metadata'].get(k) != v for k, v in GPU_METADATA.items()): out.append(f'{p.name}: GPU runtime metadata')
    return out


if __name__ == '__main__':
    if len(sys.argv) > 1: write(sys.argv[1])
    else:
        bad = disagreements()
        print('\n'.join(bad) or 'every place agrees with REPO_URL')
        sys.exit(1 if bad else 0)
