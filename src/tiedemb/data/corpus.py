"""Offline English text: the Wikipedia sample that ships inside the gensim wheel, or a user's own text file.

Nothing here downloads anything. The Wikipedia sample is an XML dump of about 107 articles (about 480k words); its
articles are extracted with gensim's own utilities, stripped of wiki markup, lower-cased and split into words.

Paper: bertolotti2024 (MLM experiment, offline substitute for BookCorpus); press2017 (real-text runs).
"""

from __future__ import annotations

import bz2
import re
from dataclasses import dataclass
from pathlib import Path

WIKI_SAMPLE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
"""The Wikipedia sample's file name in gensim's test data."""

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[0-9]+")


class CorpusError(ValueError):
    """A corpus file is missing, empty, or not text."""


@dataclass(frozen=True)
class Document:
    title: str
    text: str


def gensim_data_path(name: str) -> Path:
    """Path of a file in gensim's shipped test data; a clear error if gensim or the file is missing."""
    try:
        from gensim.test.utils import datapath
    except ImportError as err:
        raise CorpusError("gensim is not installed; it ships the offline Wikipedia sample "
                          "(pip install gensim==4.4.0)") from err
    path = Path(datapath(name))
    if not path.is_file():
        raise CorpusError(f"{name} is not in gensim's test data at {path.parent}")
    return path


def wikipedia_articles(path: Path | None = None) -> list[Document]:
    """The non-redirect articles of the Wikipedia sample, as plain text (wiki markup removed), in file order."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    path = gensim_data_path(WIKI_SAMPLE) if path is None else Path(path)
    if not path.is_file():
        raise CorpusError(f"no such file: {path}")
    docs = []
    with bz2.open(path) as fh:
        for title, text, _ in extract_pages(fh, filter_namespaces=("0",)):
            if text.lstrip().lower().startswith("#redirect"):
                continue
            docs.append(Document(title, filter_wiki(text)))
    if not docs:
        raise CorpusError(f"{path} holds no articles")
    return docs


def read_text_file(path: Path) -> str:
    """A user's UTF-8 text file; clear errors for a missing, empty or binary file."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"no such text file: {path}")
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise CorpusError(f"{path} looks binary (it contains NUL bytes); expected plain UTF-8 text")
    try:
        text = raw.decode("utf8")
    except UnicodeDecodeError as err:
        raise CorpusError(f"{path} is not UTF-8 text: {err}") from None
    if not text.strip():
        raise CorpusError(f"{path} is empty")
    return text


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters with an optional apostrophe part, or digit runs)."""
    return _WORD.findall(text.lower())


def sentences(text: str) -> list[list[str]]:
    """Text split into sentences (at ., ! and ? and blank lines), each a list of words; empty ones dropped."""
    out = []
    for chunk in re.split(r"(?<=[.!?])\s+|\n\s*\n", text):
        w = words(chunk)
        if w:
            out.append(w)
    return out
