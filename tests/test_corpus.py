"""The offline corpus loader: the shipped Wikipedia sample, users' text files, split, vocabulary, cache, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tiedemb.data.corpus import SPECIALS, CorpusError, load_corpus, read_text_file, split_documents

TEXT = "\n\n".join(
    f"The cat {i} sat on the mat. A dog ran to the park and the cat ran too! Is the sky blue {i}?" for i in range(60)
)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "my_text.txt"
    path.write_text(TEXT, encoding="utf8")
    return path


def test_user_text_file_works(text_file, tmp_path):
    corpus = load_corpus(text_file, vocab_size=20, cache=tmp_path / "corpora")
    assert corpus.vocab[: len(SPECIALS)] == SPECIALS
    assert corpus.most_frequent(1) == ["the"]
    assert corpus.vocab_size == 20
    n_words = sum(len(p.split()) for p in TEXT.split("\n\n"))
    assert len(corpus.train) + len(corpus.valid) + len(corpus.test) == n_words
    assert 0.75 < len(corpus.train) / n_words < 0.85
    assert corpus.source == "text file my_text.txt"


def test_split_is_deterministic_and_seeded(text_file, tmp_path):
    a = load_corpus(text_file, vocab_size=200, seed=0, cache=tmp_path / "a")
    b = load_corpus(text_file, vocab_size=200, seed=0, cache=tmp_path / "b")
    c = load_corpus(text_file, vocab_size=200, seed=1, cache=tmp_path / "c")
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(a, split), getattr(b, split))
    assert a.train_word_counts == b.train_word_counts
    assert a.train_word_counts != c.train_word_counts  # another seed, another split


def test_cache_roundtrip(text_file, tmp_path):
    folder = tmp_path / "corpora"
    first = load_corpus(text_file, vocab_size=20, cache=folder)
    files = list(folder.glob("corpus-*.npz"))
    assert len(files) == 1
    again = load_corpus(text_file, vocab_size=20, cache=folder)
    assert again.vocab == first.vocab and again.train_word_counts == first.train_word_counts
    np.testing.assert_array_equal(again.train, first.train)
    files[0].write_bytes(b"corrupt")  # a corrupt cache file is rebuilt, not trusted
    rebuilt = load_corpus(text_file, vocab_size=20, cache=folder)
    np.testing.assert_array_equal(rebuilt.test, first.test)


def test_split_documents_cuts_by_fraction():
    docs = [[["w"] * 10] for _ in range(100)]
    train, valid, test = split_documents(docs, (0.8, 0.1, 0.1), seed=3)
    assert (len(train), len(valid), len(test)) == (800, 100, 100)
    with pytest.raises(ValueError, match="summing to 1"):
        split_documents(docs, (0.8, 0.3, 0.1), seed=3)


def test_missing_file_error(tmp_path):
    with pytest.raises(CorpusError, match="no such text file"):
        load_corpus(tmp_path / "nope.txt", cache=tmp_path)


def test_empty_file_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("  \n\n ", encoding="utf8")
    with pytest.raises(CorpusError, match="is empty"):
        load_corpus(path, cache=tmp_path)


def test_binary_file_error(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CorpusError, match="binary"):
        read_text_file(path)
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        load_corpus(latin, cache=tmp_path)


def test_file_without_words_error(tmp_path):
    path = tmp_path / "symbols.txt"
    path.write_text("!!! ??? ... ---", encoding="utf8")
    with pytest.raises(CorpusError, match="no words"):
        load_corpus(path, cache=tmp_path)


def test_wikipedia_sample_offline(tmp_path):
    corpus = load_corpus("wikipedia", vocab_size=5000, cache=tmp_path)
    n = len(corpus.train) + len(corpus.valid) + len(corpus.test)
    assert 400_000 < n < 560_000  # about 480k words
    assert corpus.most_frequent(3) == ["the", "of", "and"]
    assert "i" in corpus.most_frequent(100)  # lower-cased: the paper's "I" → [UNK] bug (pitfall 10) cannot happen
    assert corpus.unk_rate() < 0.2
