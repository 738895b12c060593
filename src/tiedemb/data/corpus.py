"""Offline English text: the Wikipedia sample that ships inside the gensim wheel, or a user's own text file.

Nothing here downloads anything. The Wikipedia sample is an XML dump of about 107 articles (about 480k words); its
articles are extracted with gensim's own utilities, stripped of wiki markup, lower-cased and split into words.

Paper: bertolotti2024 (MLM experiment, offline substitute for BookCorpus); press2017 (real-text runs).
"""

from __future__ import annotations

import bz2
import hashlib
import importlib.util
import json
import math
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import cache_dir

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
    """Path of a file in gensim's shipped test data; a clear error if gensim or the file is missing.

    The package is found without importing it (importing gensim takes seconds, and a cached corpus needs only the
    file's bytes); the folder is the one of ``gensim.test.utils.datapath``.
    """
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError("gensim is not installed; it ships the offline Wikipedia sample "
                          "(pip install gensim==4.4.0)")
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data" / name
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


# --------------------------------------------------------------------------------------------------------------------
# Processed corpus: deterministic split, word-level vocabulary from the training split, on-disk cache

PAD, UNK, MASK = "[PAD]", "[UNK]", "[MASK]"
SPECIALS = (PAD, UNK, MASK)
"""Special tokens, at ids 0, 1, 2 of every vocabulary (BERT's names)."""

PROCESSING_VERSION = 1
"""Bump when the processing below changes: cached corpora made by older code are then ignored."""


@dataclass(frozen=True)
class ProcessedCorpus:
    """A tokenised corpus: word ids of the three splits and the vocabulary built from the training split.

    Ids 0, 1, 2 are [PAD], [UNK], [MASK]; ids from 3 on are the ``vocab_size - 3`` most frequent words of the
    training split, most frequent first (ties broken alphabetically). Words outside the vocabulary become [UNK].
    """

    vocab: tuple[str, ...]  # id -> word
    train: np.ndarray  # word ids of the training split, (n_train,), int64
    valid: np.ndarray  # validation split, (n_valid,)
    test: np.ndarray  # test split, (n_test,)
    train_word_counts: dict[str, int]  # raw counts of every word in the training split (before [UNK] mapping)
    source: str  # what the text came from, in words

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    @property
    def mask_id(self) -> int:
        return 2

    def encode(self, tokens: list[str]) -> np.ndarray:
        """Word ids of a list of words ([UNK] for words outside the vocabulary)."""
        index = {w: i for i, w in enumerate(self.vocab)}
        return np.array([index.get(w, self.unk_id) for w in tokens], dtype=np.int64)

    def most_frequent(self, n: int) -> list[str]:
        """The ``n`` most frequent words of the training split (specials excluded), most frequent first."""
        if n > self.vocab_size - len(SPECIALS):
            raise ValueError(f"asked for the {n} most frequent words, but the vocabulary holds only "
                             f"{self.vocab_size - len(SPECIALS)} words")
        return list(self.vocab[len(SPECIALS): len(SPECIALS) + n])

    def unk_rate(self, split: str = "train") -> float:
        """Fraction of a split's tokens that are [UNK]."""
        ids = {"train": self.train, "valid": self.valid, "test": self.test}[split]
        return float(np.mean(ids == self.unk_id)) if len(ids) else 0.0


def split_documents(docs: list[list[list[str]]], fractions: tuple[float, float, float], seed: int
                    ) -> tuple[list[str], list[str], list[str]]:
    """Shuffle documents (lists of sentences) with ``seed``, concatenate them and cut the word stream by ``fractions``.

    Cuts fall on sentence boundaries. Same documents and seed give the same split.

    Returns:
        The words of the train, validation and test splits.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    order = np.random.default_rng([seed, 0x5EED]).permutation(len(docs))
    stream = [s for i in order for s in docs[i]]
    total = sum(len(s) for s in stream)
    bounds = (fractions[0] * total, (fractions[0] + fractions[1]) * total)
    parts: tuple[list[str], list[str], list[str]] = ([], [], [])
    seen = 0
    for sent in stream:
        part = 0 if seen < bounds[0] else 1 if seen < bounds[1] else 2
        parts[part].extend(sent)
        seen += len(sent)
    return parts


def build_vocab(train_words: list[str], vocab_size: int) -> tuple[tuple[str, ...], dict[str, int]]:
    """The specials plus the ``vocab_size - 3`` most frequent training words, and the raw word counts."""
    counts = Counter(train_words)
    if vocab_size <= len(SPECIALS):
        raise ValueError(f"vocab_size must exceed the {len(SPECIALS)} special tokens, got {vocab_size}")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    words_ = [w for w, _ in ranked[: vocab_size - len(SPECIALS)]]
    return (*SPECIALS, *words_), dict(counts)


def _source_documents(source: str | Path) -> tuple[list[list[list[str]]], str, bytes]:
    """Documents (lists of sentences of words) from "wikipedia" or a text file, a description, and the raw bytes."""
    if str(source) == "wikipedia":
        path = gensim_data_path(WIKI_SAMPLE)
        docs = [sentences(d.text) for d in wikipedia_articles(path)]
        return docs, f"English Wikipedia sample shipped with gensim ({WIKI_SAMPLE})", path.read_bytes()
    path = Path(source)
    text = read_text_file(path)
    # A user's file: paragraphs (blank-line separated) are the documents that the split shuffles.
    paras = [sentences(p) for p in re.split(r"\n\s*\n", text)]
    docs = [p for p in paras if p]
    if not docs:
        raise CorpusError(f"{path} holds no words (only punctuation or symbols?)")
    return docs, f"text file {path.name}", text.encode("utf8")


def corpus_key(source: str | Path, raw: bytes, vocab_size: int, fractions: tuple[float, float, float],
               seed: int) -> str:
    """A hash naming a processed corpus: source bytes, processing options and :data:`PROCESSING_VERSION`."""
    h = hashlib.sha256(raw)
    h.update(json.dumps([PROCESSING_VERSION, vocab_size, list(fractions), seed]).encode())
    return h.hexdigest()[:16]


def load_corpus(source: str | Path = "wikipedia", *, vocab_size: int = 5000,
                fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0,
                cache: Path | None = None) -> ProcessedCorpus:
    """The processed corpus of ``source``: split, vocabulary and word ids, cached on disk.

    Args:
        source: ``"wikipedia"`` (the sample shipped with gensim, no download) or the path of a UTF-8 text file.
        vocab_size: vocabulary size, specials included; built from the training split only.
        fractions: train/validation/test shares of the words.
        seed: the seed of the document shuffle that makes the split.
        cache: folder for processed corpora (default ``config.cache_dir() / "corpora"``); written atomically.

    Paper: bertolotti2024 (MLM experiment; BookCorpus train[0%:70%] / train[70%:80%] and the BERT tokenizer there).
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size <= len(SPECIALS):
        raise ValueError(f"vocab_size must be an integer > {len(SPECIALS)}, got {vocab_size!r}")
    if str(source) != "wikipedia" and not Path(source).is_file():
        raise CorpusError(f"no such text file: {source} (use 'wikipedia' for the sample shipped with gensim)")
    raw_path = gensim_data_path(WIKI_SAMPLE) if str(source) == "wikipedia" else Path(source)
    raw = raw_path.read_bytes()
    folder = (cache_dir() / "corpora") if cache is None else Path(cache)
    path = folder / f"corpus-{corpus_key(source, raw, vocab_size, fractions, seed)}.npz"
    if path.is_file():
        try:
            return _read_cached(path)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # corrupt: rebuild below
    docs, description, _ = _source_documents(source)
    train, valid, test = split_documents(docs, fractions, seed)
    if not train:
        raise CorpusError(f"{description}: the training split is empty")
    vocab, counts = build_vocab(train, vocab_size)
    index = {w: i for i, w in enumerate(vocab)}

    def ids(ws: list[str]) -> np.ndarray:
        return np.fromiter((index.get(w, 1) for w in ws), dtype=np.int64, count=len(ws))

    corpus = ProcessedCorpus(vocab, ids(train), ids(valid), ids(test), counts, description)
    _write_cached(path, corpus)
    return corpus


def _write_cached(path: Path, corpus: ProcessedCorpus) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    words_, counts = zip(*sorted(corpus.train_word_counts.items()), strict=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, vocab=np.array(corpus.vocab), train=corpus.train, valid=corpus.valid, test=corpus.test,
                     count_words=np.array(words_), count_values=np.array(counts, dtype=np.int64),
                     source=np.array(corpus.source))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_cached(path: Path) -> ProcessedCorpus:
    with np.load(path, allow_pickle=False) as z:
        counts = dict(zip(z["count_words"].tolist(), z["count_values"].tolist(), strict=True))
        return ProcessedCorpus(tuple(z["vocab"].tolist()), z["train"], z["valid"], z["test"], counts,
                               str(z["source"]))


# --------------------------------------------------------------------------------------------------------------------
# Raw sentences for a pretrained tokenizer (Yamagiwa & Shimodaira's protocol)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def raw_sentences(source: str | Path = "wikipedia", *, max_words: int = 64) -> list[str]:
    """Sentences of ``source`` as raw text (case and punctuation kept, for a pretrained tokenizer), with fewer than
    ``max_words`` whitespace-separated words, sorted by length in words (ties: text order), as the paper prepares
    BookCorpus. Section headings and lines without a letter are dropped.

    Paper: yamagiwa2025 (code: sentences with fewer than 64 words, sorted by length).
    """
    if str(source) == "wikipedia":
        texts = [d.text for d in wikipedia_articles()]
    else:
        texts = [read_text_file(Path(source))]
    out = []
    for text in texts:
        for s in _SENTENCE_END.split(text):
            s = " ".join(s.split())
            if s.startswith("=") and s.endswith("="):  # a section heading of the wiki markup
                continue
            if s and re.search(r"[A-Za-z]", s) and len(s.split()) < max_words:
                out.append(s)
    if not out:
        raise CorpusError(f"{source}: no sentence with fewer than {max_words} words")
    order = sorted(range(len(out)), key=lambda i: (len(out[i].split()), i))
    return [out[i] for i in order]
