"""A small in-memory inverted index with prefix matching and BM25-style scoring.

Why hand-written: the corpus (≈10k entities + a few thousand pages) fits in memory, results must
update one document at a time when the catalog changes, and field boosts must make the obvious
match win. A general engine would be heavier than these ~300 lines.

Scoring, per query word: ``idf(term) × Σ_fields boost × tf'/(k1 + tf')`` where ``tf'`` is the
term frequency normalised by the field's length relative to that field's average (BM25's ``b``).
Saturating *per field* means a single hit in a name (boost 10) outweighs any number of mentions
in a body (boost 1). The per-document "impact" of each term is computed when the document is
added, so a query only multiplies by idf and sums. Words may match as prefixes (as-you-type);
a prefix match counts ``PREFIX_WEIGHT`` of an exact one. Documents matching every query word are
favoured through a coordination factor, and an exact name/title match gets a bonus.

All public methods take a lock: the catalog may call back from a worker thread while the UI
queries.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable

from backends.search.model import (
    FIELD_BOOSTS,
    PROSE_FIELDS,
    ResultType,
    SearchDocument,
    SearchHit,
    SearchResults,
)
from backends.search.snippets import make_snippet

_TOKEN = re.compile(r"[^\W_]+")
# Filler words left out of prose fields (names and titles keep them).
_STOPWORD_TEXT = (
    "a an and are as at be by for from has have in is it its of on or that the this to was were will with"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
K1 = 1.2
B = 0.75
PREFIX_WEIGHT = 0.6
MAX_EXPANSIONS = 40  # prefix expansions per query word; keeps one-letter queries fast
MAX_QUERY_WORDS = 8
EXACT_BONUS = 1.5  # the query is exactly a document's name or title
_BULK_VOCAB_THRESHOLD = 2000  # more new words than this: re-sort the vocabulary lazily


def tokenize(text: str) -> list[str]:
    """Lowercase words (letters and digits); ``payment-service`` → ``payment``, ``service``."""
    return _TOKEN.findall(text.lower())


def normalise(text: str) -> str:
    """Words joined by single spaces: the key used to detect exact name/title matches."""
    return " ".join(tokenize(text))


class SearchIndex:
    """Inverted index over ``SearchDocument``s; add, replace and remove one at a time or in bulk."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        # Everything but the lock: clear() runs under it, and a new lock would let a thread already
        # waiting on the old one in while another takes the new one.
        self._next_no = 0
        self._docs: dict[int, SearchDocument] = {}
        self._by_id: dict[str, int] = {}
        self._groups: dict[str, set[int]] = {}
        self._postings: dict[str, dict[int, float]] = {}
        self._doc_terms: dict[int, tuple[str, ...]] = {}
        self._doc_field_lens: dict[int, dict[str, int]] = {}
        self._doc_keys: dict[int, tuple[str, str]] = {}
        self._field_len_sum: Counter[str] = Counter()
        self._field_count: Counter[str] = Counter()
        self._vocab: list[str] | None = []

    # -- maintenance -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._by_id

    def get(self, doc_id: str) -> SearchDocument | None:
        """The indexed document with this id, if any."""
        with self._lock:
            no = self._by_id.get(doc_id)
            return None if no is None else self._docs[no]

    def documents(self, group: str | None = None) -> list[SearchDocument]:
        """Every document (or those of one group), in insertion order."""
        with self._lock:
            if group is None:
                return list(self._docs.values())
            return [self._docs[no] for no in sorted(self._groups.get(group, ()))]

    def add(self, document: SearchDocument) -> None:
        """Add one document, replacing any document with the same id."""
        self.add_many([document])

    def add_many(self, documents: Iterable[SearchDocument]) -> int:
        """Add (or replace) documents; returns how many were added."""
        # Tokenising is the expensive part and needs no lock.
        prepared = [(doc, _tokenize_fields(doc)) for doc in documents]
        with self._lock:
            for doc, _ in prepared:
                if doc.id in self._by_id:
                    self._remove_no(self._by_id[doc.id])
            for _, fields in prepared:
                for name, tokens in fields.items():
                    self._field_len_sum[name] += len(tokens)
                    self._field_count[name] += 1
            averages = {
                name: self._field_len_sum[name] / count for name, count in self._field_count.items() if count
            }
            new_terms: list[str] = []
            for doc, fields in prepared:
                new_terms.extend(self._insert(doc, fields, averages))
            self._update_vocab(new_terms)
        return len(prepared)

    def remove(self, doc_id: str) -> bool:
        """Remove a document by id; False when it was not indexed."""
        with self._lock:
            no = self._by_id.get(doc_id)
            if no is None:
                return False
            self._remove_no(no)
            return True

    def remove_group(self, group: str) -> int:
        """Remove every document of ``group``; returns how many were removed."""
        with self._lock:
            numbers = list(self._groups.get(group, ()))
            for no in numbers:
                self._remove_no(no)
            return len(numbers)

    def clear(self) -> None:
        """Forget every document."""
        with self._lock:
            self._reset()

    # -- query -----------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        kind: str | None = None,
        limit: int = 10,
    ) -> SearchResults:
        """Ranked hits for ``query``, grouped by type, at most ``limit`` per group.

        ``kind`` filters: ``entity``/``docs``/``template`` select a type; anything else is matched
        against documents' ``kind`` (an entity kind such as ``component`` or ``api``).
        """
        started = time.perf_counter()
        results = SearchResults(query=query)
        words = list(dict.fromkeys(tokenize(query)))[:MAX_QUERY_WORDS]
        if not words:
            return results
        kind_filter = (kind or "").strip().lower() or None
        with self._lock:
            docs = self._docs

            def candidates(require_all: bool) -> list[tuple[float, int]]:
                return [
                    (score, no)
                    for no, (score, _) in self._score(words, require_all=require_all).items()
                    if not kind_filter or kind_filter in (docs[no].type.value, docs[no].kind)
                ]

            # Every word must match (as a word or a prefix); only when no document has them all
            # are partial matches shown, flagged, so a typo still finds something.
            found = candidates(True)
            if not found and len(words) > 1:
                found = candidates(False)
                results.partial = bool(found)
            by_type: dict[ResultType, list[tuple[float, int]]] = {}
            for score, no in found:
                by_type.setdefault(docs[no].type, []).append((score, no))
            for result_type in ResultType:
                of_type = by_type.get(result_type)
                if not of_type:
                    continue
                results.totals[result_type] = len(of_type)
                top = heapq.nlargest(limit, of_type, key=lambda item: (item[0], -item[1]))
                hits = []
                for score, no in top:
                    doc = docs[no]
                    snippet, section = make_snippet(doc, words)
                    target = doc.target
                    heading = ""
                    # The page's own title section is the page itself: no anchor to jump to.
                    if section is not None and section.offset > 0:
                        heading = section.title
                        target = type(target)(target.type, target.ref, target.page, section.anchor)
                    hits.append(SearchHit(doc, score, snippet, target, heading))
                results.groups[result_type] = hits
        results.elapsed_ms = (time.perf_counter() - started) * 1000
        return results

    # -- internals -------------------------------------------------------------------------------
    def _score(self, words: list[str], *, require_all: bool) -> dict[int, tuple[float, int]]:
        """Score documents: ``no → (score, words matched)``.

        With ``require_all`` only documents matching every word are scored, and the words are
        taken rarest first so each later word only probes the survivors (a dict lookup per
        candidate instead of a walk over a long posting list). Otherwise any word counts, and a
        coverage factor ranks documents matching more of the words first.
        """
        total = len(self._docs)
        postings = self._postings
        expansions = [self._expand(word, last=i == len(words) - 1) for i, word in enumerate(words)]
        weighted = [
            [
                (
                    postings[term],
                    weight
                    * math.log(1.0 + (total - len(postings[term]) + 0.5) / (len(postings[term]) + 0.5)),
                )
                for term, weight in terms
            ]
            for terms in expansions
        ]
        count = len(words)
        matched: Counter[int] = Counter()
        if require_all:
            if any(not terms for terms in weighted):
                return {}
            weighted.sort(key=lambda terms: sum(len(posting) for posting, _ in terms))
            totals = _best_per_document(weighted[0])
            for terms in weighted[1:]:
                survivors: dict[int, float] = {}
                for no, value in totals.items():
                    best = max(factor * posting.get(no, 0.0) for posting, factor in terms)
                    if best > 0.0:
                        survivors[no] = value + best
                totals = survivors
                if not totals:
                    return {}
            matched = Counter(dict.fromkeys(totals, count))
        else:
            totals = {}
            for terms in weighted:
                if not terms:
                    continue
                per_document = _best_per_document(terms)
                for no, value in per_document.items():
                    totals[no] = totals.get(no, 0.0) + value
                matched.update(per_document.keys())
        phrase = " ".join(words)
        keys = self._doc_keys
        scored: dict[int, tuple[float, int]] = {}
        for no, value in totals.items():
            coverage = matched[no] / count
            value *= coverage * coverage
            name_key, title_key = keys[no]
            if phrase in (name_key, title_key):
                value *= EXACT_BONUS
            scored[no] = (value, matched[no])
        return scored

    def _expand(self, word: str, *, last: bool) -> list[tuple[str, float]]:
        """The indexed terms a query word matches: itself, and words it is a prefix of."""
        expansions: list[tuple[str, float]] = []
        if word in self._postings:
            expansions.append((word, 1.0))
        if len(word) < 2 and not last:
            return expansions
        vocab = self._sorted_vocab()
        start = bisect.bisect_right(vocab, word)
        for term in vocab[start : start + MAX_EXPANSIONS]:
            if not term.startswith(word):
                break
            expansions.append((term, PREFIX_WEIGHT))
        return expansions

    def _sorted_vocab(self) -> list[str]:
        if self._vocab is None:
            self._vocab = sorted(self._postings)
        return self._vocab

    def _update_vocab(self, new_terms: list[str]) -> None:
        if self._vocab is None:
            return
        if len(new_terms) > _BULK_VOCAB_THRESHOLD:
            self._vocab = None  # cheaper to sort once on the next query
            return
        for term in new_terms:
            bisect.insort(self._vocab, term)

    def _insert(
        self, doc: SearchDocument, fields: dict[str, list[str]], averages: dict[str, float]
    ) -> list[str]:
        no = self._next_no
        self._next_no += 1
        self._docs[no] = doc
        self._by_id[doc.id] = no
        if doc.group:
            self._groups.setdefault(doc.group, set()).add(no)
        name = doc.fields.get("name", "")
        self._doc_keys[no] = (normalise(name) if name else "", normalise(doc.title))
        impacts: dict[str, float] = {}
        # The longest field (a page body) first, as one dict comprehension: it holds most of the
        # terms, and a comprehension is about twice as fast as a loop of get/set.
        for field_name, tokens in sorted(fields.items(), key=lambda item: -len(item[1])):
            if not tokens:
                continue
            boost = FIELD_BOOSTS.get(field_name, 1.0)
            scale = 1.0 / (1.0 - B + B * len(tokens) / (averages.get(field_name) or len(tokens)))
            counts = Counter(tokens)
            if field_name in PROSE_FIELDS:
                for stopword in STOPWORDS.intersection(counts):
                    del counts[stopword]
            if not impacts:
                impacts = {
                    term: boost * (count * scale) / (K1 + count * scale) for term, count in counts.items()
                }
                continue
            get = impacts.get
            for term, count in counts.items():
                tf = count * scale
                impacts[term] = get(term, 0.0) + boost * tf / (K1 + tf)
        new_terms: list[str] = []
        postings = self._postings
        for term, impact in impacts.items():
            try:
                postings[term][no] = impact
            except KeyError:
                postings[term] = {no: impact}
                new_terms.append(term)
        self._doc_terms[no] = tuple(impacts)
        self._doc_field_lens[no] = {name: len(tokens) for name, tokens in fields.items()}
        return new_terms

    def _remove_no(self, no: int) -> None:
        doc = self._docs.pop(no)
        del self._by_id[doc.id]
        if doc.group:
            members = self._groups.get(doc.group)
            if members is not None:
                members.discard(no)
                if not members:
                    del self._groups[doc.group]
        for name, length in self._doc_field_lens.pop(no).items():
            self._field_len_sum[name] -= length
            self._field_count[name] -= 1
        del self._doc_keys[no]
        for term in self._doc_terms.pop(no):
            posting = self._postings[term]
            del posting[no]
            if not posting:
                del self._postings[term]
                if self._vocab is not None:
                    at = bisect.bisect_left(self._vocab, term)
                    if at < len(self._vocab) and self._vocab[at] == term:
                        del self._vocab[at]


def _best_per_document(terms: list[tuple[dict[int, float], float]]) -> dict[int, float]:
    """For one query word: each document's best score over the terms the word expands to."""
    (first, factor), *rest = terms
    best = {no: factor * impact for no, impact in first.items()}
    for posting, factor in rest:
        get = best.get
        for no, impact in posting.items():
            value = factor * impact
            if value > get(no, 0.0):
                best[no] = value
    return best


def _tokenize_fields(doc: SearchDocument) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for name, text in doc.fields.items():
        if not text:
            continue
        fields[name] = _TOKEN.findall(text.lower())
    return fields
