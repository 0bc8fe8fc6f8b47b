"""Check the built book as a reader sees it: tables render as tables, math is served locally, no noise in outputs.

`make book` runs it after the build (`python book/check_html.py _build/html`); tests/test_rendering.py checks that
each rule holds on a good page and fails on a bad one. A page fails when
- a paragraph starts with "| " or contains "|---" (a markdown table that was not rendered as a table);
- it loads MathJax (or anything else) from a CDN instead of from the built book;
- a code block shows an nbdev directive line (`#| ...`);
- an output shows a Python traceback, a warning ("...Warning:", "WARNING"), tqdm's "IProgress not found", a path
  inside a virtual environment or site-packages, or any stderr stream;
- a chapter page (the paper's sections and the claims page) has no `<table>` at all.
Exit status 1 and one line per problem when anything fails.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from bs4 import BeautifulSoup

CDN = re.compile(r'https?://[^"\'\s]*(mathjax|jsdelivr|cdnjs|unpkg)[^"\'\s]*', re.I)
NOISE = [(re.compile(r'Traceback \(most recent call last\)'), 'a Python traceback'),
         (re.compile(r'\b[A-Z][A-Za-z]*Warning:'), 'a warning'),
         (re.compile(r'^\s*WARNING\b', re.M), 'a WARNING line'),
         (re.compile(r'IProgress not found'), "tqdm's IProgress warning"),
         (re.compile(r'site-packages/|/\.venv/|/venv/lib/'), 'a path inside a virtual environment')]
CHAPTERS = re.compile(r'(^|/)(1\d|2\d)_[^/]*\.html$')   # the paper's sections (10-13) and the claims page (20)


def check_page(html: str, name: str = 'page') -> list[str]:
    "Problems found on one built HTML page (an empty list when it reads well)."
    soup = BeautifulSoup(html, 'html.parser')
    main = soup.find('main') or soup
    problems = []
    for p in main.find_all('p'):
        text = p.get_text()
        if text.lstrip().startswith('| ') or '|---' in text:
            problems.append(f'{name}: a markdown table rendered as a paragraph: {text.strip()[:80]!r}')
    for tag in soup.find_all(['script', 'link']):
        url = tag.get('src') or tag.get('href') or ''
        if CDN.match(url):
            problems.append(f'{name}: loads {url} from a CDN (serve it from the book, e.g. sphinx-mathjax-offline)')
    for m in CDN.finditer(' '.join(s.get_text() for s in soup.find_all('script') if 'mathjax' in s.get_text().lower())):
        problems.append(f'{name}: a script points MathJax at {m.group(0)}')
    for pre in main.select('div.cell_input pre, div.highlight pre'):
        if any(line.lstrip().startswith('#|') for line in pre.get_text().splitlines()):
            problems.append(f'{name}: a code cell shows an nbdev directive (#|)')
            break
    for out in main.select('div.cell_output, div.output'):
        classes = ' '.join(out.get('class', []))
        if 'stderr' in classes:
            problems.append(f'{name}: an output shows stderr: {out.get_text().strip()[:100]!r}')
            continue
        text = out.get_text()
        for pat, what in NOISE:
            if m := pat.search(text):
                problems.append(f'{name}: an output shows {what}: {m.group(0)!r}')
    if CHAPTERS.search(name) and not main.find('table'):
        problems.append(f'{name}: a chapter page without any <table>')
    return sorted(set(problems), key=problems.index)


def check_book(html_dir: Path) -> list[str]:
    "Problems on every page of a built book (`_build/html`)."
    html_dir = Path(html_dir)
    pages = sorted(p for p in html_dir.rglob('*.html')
                   if not any(part.startswith(('_', '.')) for part in p.relative_to(html_dir).parts)
                   and p.name not in ('search.html', 'genindex.html'))
    if not pages: return [f'no HTML pages under {html_dir}: build the book first (make book)']
    problems = []
    for p in pages: problems += check_page(p.read_text(encoding='utf8'), str(p.relative_to(html_dir)))
    if not (html_dir / '_static' / 'mathjax').is_dir():
        problems.append(f'{html_dir}/_static/mathjax is missing: MathJax is not served from the book')
    return problems


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    html_dir = Path(argv[0] if argv else '_build/html')
    problems = check_book(html_dir)
    for p in problems: print(p)
    n = len(list(html_dir.rglob('*.html')))
    print(f'{len(problems)} rendering problem(s) in {html_dir} ({n} HTML files)' if problems else
          f'rendering check passed: {html_dir} ({n} HTML files)')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
