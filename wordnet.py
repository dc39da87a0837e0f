"""A small reader for the noun part of WordNet 3.0 (no nltk needed).

It parses the Princeton database files ``data.noun`` (synsets, lemmas and pointers) and, on
demand, ``index.noun`` (lemma -> synsets in sense-frequency order) and ``noun.exc`` (irregular
plurals, for `WordNet.morphy`, WordNet's own reduction of inflected words). Synsets are named by their
ImageNet-style *wnid*: ``'n'`` followed by the 8-digit byte offset of the synset in ``data.noun``,
e.g. ``n02084071`` is ``dog, domestic_dog, Canis_familiaris``.

Only is-a relations are kept: hypernyms (pointer ``@``) and instance hypernyms (``@i``). The
file format is described in WordNet's ``wndb(5)`` manual page.

    >>> wn = load_wordnet()  # cached WordNet.load()
    >>> wn.hypernyms('n02084071')
    ('n02083346', 'n01317541')
    >>> wn.name('n02083346')
    'canine'
    >>> wn.lookup('Airplanes')
    [('airplane', ('n02691156',))]

As a command, ``python wordnet.py WORD...`` prints the senses of words (see ``--help``).
"""
import itertools
import os
from functools import cached_property

# The DAG and tree functions live in taxonomy.trees; they are re-exported here, where they began.
from taxonomy.trees import (build_mintree, dag_edges, prune_single_child_nodes, root_paths,  # noqa: F401
                            tree_children, tree_edges, tree_preorder, tree_roots)

DEFAULT_WORDNET_DIR = '/usr/share/wordnet'
ROOT_WNID = 'n00001740'  # entity: the single root of the WordNet 3.0 noun hierarchy


def offset_to_wnid(offset):
    return 'n{:08d}'.format(int(offset))


def _is_license_line(line):
    # The database files start with a license header whose lines begin with two spaces.
    return line.startswith('  ')


class WordNet:
    """Is-a graph and lemmas of WordNet noun synsets, keyed by wnid."""

    def __init__(self, lemmas, hypernyms, instance_hypernyms, glosses=None, wordnet_dir=None):
        self.lemmas = lemmas                          # wnid -> tuple of lemma names (first = head word)
        self._hypernyms = hypernyms                   # wnid -> tuple of wnids ('@')
        self._instance_hypernyms = instance_hypernyms # wnid -> tuple of wnids ('@i')
        self.glosses = glosses or {}
        self.wordnet_dir = wordnet_dir

    # ---------------------------------------------------------------- loading

    @classmethod
    def load(cls, wordnet_dir=DEFAULT_WORDNET_DIR):
        """Read ``<wordnet_dir>/data.noun``; raises OSError/ValueError naming the file on failure."""
        path = os.path.join(wordnet_dir, 'data.noun')
        lemmas, hypernyms, instance_hypernyms, glosses = {}, {}, {}, {}
        with open(path, encoding='utf-8') as f:
            for line_no, line in enumerate(f, start=1):
                if _is_license_line(line) or not line.strip():
                    continue
                try:
                    wnid, words, hyper, inst, gloss = _parse_data_line(line)
                except (ValueError, IndexError) as e:
                    raise ValueError('{}:{}: malformed WordNet data line ({})'.format(path, line_no, e)) from None
                lemmas[wnid] = words
                glosses[wnid] = gloss
                if hyper:
                    hypernyms[wnid] = hyper
                if inst:
                    instance_hypernyms[wnid] = inst
        if not lemmas:
            raise ValueError('{}: no synsets found'.format(path))
        return cls(lemmas, hypernyms, instance_hypernyms, glosses, wordnet_dir=wordnet_dir)

    # ---------------------------------------------------------------- synsets

    def __contains__(self, wnid):
        return wnid in self.lemmas

    def __len__(self):
        return len(self.lemmas)

    def check(self, wnid):
        """Return wnid if it is a known noun synset, else raise ValueError."""
        if wnid not in self.lemmas:
            raise ValueError('unknown WordNet noun synset: {!r}'.format(wnid))
        return wnid

    def name(self, wnid):
        """Head lemma of the synset, e.g. 'dog' for n02084071."""
        return self.lemmas[self.check(wnid)][0]

    def hypernyms(self, wnid, include_instances=True):
        """Direct is-a parents of a synset (hypernyms, then instance hypernyms)."""
        self.check(wnid)
        parents = self._hypernyms.get(wnid, ())
        if include_instances:
            parents = parents + self._instance_hypernyms.get(wnid, ())
        return parents

    def is_instance(self, wnid):
        """Whether the synset is an instance (a named thing: Snoopy, the Great Pyramid), not a kind."""
        return bool(self._instance_hypernyms.get(self.check(wnid)))

    def hypernym_paths(self, wnid, include_instances=True):
        """All paths from a root down to wnid, each a tuple ``(root, ..., wnid)``.

        Paths are listed in the order of the hypernym pointers in the database, depth first.
        """
        self.check(wnid)
        return list(root_paths(wnid, lambda w: self.hypernyms(w, include_instances)))

    def ancestors(self, wnid, include_instances=True):
        """All synsets above wnid (not including wnid itself)."""
        seen, stack = set(), [self.check(wnid)]
        while stack:
            for parent in self.hypernyms(stack.pop(), include_instances):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    def is_a_edges(self, wnids, include_instances=True):
        """Set of (parent, child) edges of the is-a DAG spanned by wnids and all their ancestors."""
        return dag_edges([self.check(w) for w in wnids], lambda w: self.hypernyms(w, include_instances))

    # ---------------------------------------------------------------- lemmas

    @cached_property
    def _sense_index(self):
        """lemma (lower case, spaces as '_') -> wnids ordered by sense frequency, from index.noun."""
        if self.wordnet_dir is None:
            raise ValueError('no WordNet directory known to read index.noun from')
        path = os.path.join(self.wordnet_dir, 'index.noun')
        index = {}
        with open(path, encoding='utf-8') as f:
            for line_no, line in enumerate(f, start=1):
                if _is_license_line(line) or not line.strip():
                    continue
                fields = line.split()
                try:
                    synset_cnt, ptr_cnt = int(fields[2]), int(fields[3])
                    offsets = fields[6 + ptr_cnt:6 + ptr_cnt + synset_cnt]
                    index[fields[0]] = tuple(offset_to_wnid(o) for o in offsets)
                except (ValueError, IndexError):
                    raise ValueError('{}:{}: malformed WordNet index line'.format(path, line_no)) from None
        return index

    def synsets(self, lemma):
        """Noun synsets of a word (case-insensitive, spaces or underscores), most frequent sense first."""
        return self._sense_index.get(normalize_lemma(lemma), ())

    # ---------------------------------------------------------------- morphology

    @cached_property
    def _noun_exceptions(self):
        """Irregular inflections from noun.exc: inflected form -> base forms (e.g. 'geese' -> ('goose',))."""
        path = os.path.join(self.wordnet_dir, 'noun.exc')
        exceptions = {}
        with open(path, encoding='utf-8') as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 2:
                    exceptions.setdefault(fields[0], []).extend(fields[1:])
        return {form: tuple(bases) for form, bases in exceptions.items()}

    def morphy(self, word):
        """Base forms of a noun that are in WordNet, as WordNet's morphy finds them (``morph.c``).

        The word itself comes first where it is a lemma; then, for an irregular form, its bases from
        the exception list ``noun.exc`` ('mice' -> 'mouse'), otherwise the results of the noun
        suffix rules (`NOUN_SUFFIX_RULES`: 'airplanes' -> 'airplane', 'butterflies' -> 'butterfly').
        As in WordNet, the rules do not touch words ending in 'ss' or of two letters or less, and
        'boxesful' becomes 'boxful'. Collocations ('soccer_balls') are inflected at the end; where
        that finds nothing, each word is reduced on its own ('men_of_war' style).
        """
        word = normalize_lemma(word)
        forms = [word] + self._base_candidates(word)
        if '_' in word and not any(f in self._sense_index for f in forms):
            parts = [[p] + self._base_candidates(p) for p in word.split('_')]
            forms += ['_'.join(combination) for combination in _limited_product(parts, 64)]
        return _unique(f for f in forms if f in self._sense_index)

    def _base_candidates(self, word):
        if word in self._noun_exceptions:
            return list(self._noun_exceptions[word])
        if word.endswith('ful') and len(word) > 3:
            return [base + 'ful' for base in self.morphy(word[:-3])]
        if word.endswith('ss') or len(word) <= 2:
            return []
        return [word[:-len(suffix)] + ending for suffix, ending in NOUN_SUFFIX_RULES if word.endswith(suffix)]

    def lookup(self, word):
        """Noun synsets of a word after morphology: list of (base form, its synsets in sense order)."""
        return [(base, self.synsets(base)) for base in self.morphy(word)]

    @cached_property
    def _all_words(self):
        """Every lemma of any part of speech (index.noun/verb/adj/adv), lower case."""
        words = set()
        for pos in ('noun', 'verb', 'adj', 'adv'):
            path = os.path.join(self.wordnet_dir, 'index.' + pos)
            if not os.path.exists(path):
                continue
            with open(path, encoding='utf-8') as f:
                words.update(line.split(' ', 1)[0] for line in f if not _is_license_line(line))
        return words

    def is_word(self, word):
        """Whether WordNet knows the word in any part of speech (nouns after morphology)."""
        return normalize_lemma(word) in self._all_words or bool(self.morphy(word))


# WordNet's detachment rules for nouns (morph.c): suffix -> replacement, tried in this order.
NOUN_SUFFIX_RULES = (('s', ''), ('ses', 's'), ('xes', 'x'), ('zes', 'z'), ('ches', 'ch'), ('shes', 'sh'),
                     ('men', 'man'), ('ies', 'y'))


def normalize_lemma(word):
    """The form of a lemma in WordNet's index files: lower case, spaces as underscores."""
    return '_'.join(word.strip().lower().split())


def _unique(items):
    seen, result = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def _limited_product(lists, limit):
    return list(itertools.islice(itertools.product(*lists), limit))


def _parse_data_line(line):
    """Split one data.noun line into (wnid, lemmas, hypernyms, instance hypernyms, gloss)."""
    data, _, gloss = line.partition('|')
    fields = data.split()
    wnid = offset_to_wnid(fields[0])
    word_count = int(fields[3], 16)  # w_cnt is a 2-digit hexadecimal number
    words = tuple(fields[4 + 2 * i] for i in range(word_count))
    pos = 4 + 2 * word_count
    pointer_count = int(fields[pos])
    if len(fields) < pos + 1 + 4 * pointer_count:
        raise ValueError('expected {} pointers'.format(pointer_count))
    hypernyms, instance_hypernyms = [], []
    for i in range(pos + 1, pos + 1 + 4 * pointer_count, 4):
        symbol, offset, target_pos = fields[i], fields[i + 1], fields[i + 2]
        if target_pos != 'n':
            continue
        if symbol == '@':
            hypernyms.append(offset_to_wnid(offset))
        elif symbol == '@i':
            instance_hypernyms.append(offset_to_wnid(offset))
    return wnid, words, tuple(hypernyms), tuple(instance_hypernyms), gloss.strip()


_cache = {}


def load_wordnet(wordnet_dir=DEFAULT_WORDNET_DIR):
    """Shared, cached :class:`WordNet` instance per directory (parsing takes about a second)."""
    key = os.path.abspath(wordnet_dir)
    if key not in _cache:
        _cache[key] = WordNet.load(wordnet_dir)
    return _cache[key]


# ------------------------------------------------------------------------------------------------
# Command line: look words up
# ------------------------------------------------------------------------------------------------

DESCRIPTION = """\
Look up WordNet 3.0 noun synsets: for every WORD (any case; spaces or underscores inside
collocations; plurals and other inflections are reduced with WordNet's morphology, e.g.
"airplanes" -> airplane, "mice" -> mouse), print its senses, most frequent first, each as
wnid, lemmas, gloss and hypernym. A WORD of the form n12345678 prints that synset.

The wnids are what class lists for wordnet_hierarchy.py contain and what the override file of
taxonomy_from_names.py maps class names to (one "name wnid" per line). To build a class
taxonomy from a dataset's class names, use taxonomy_from_names.py."""

EXAMPLES = """\
examples:
  python wordnet.py airplanes Faces cougar
  python wordnet.py --paths n02125311"""


def describe_synset(wn, wnid, paths=False):
    """Lines describing one synset: its lemmas and gloss, its hypernyms (or its root paths)."""
    lines = ['{}  {}: {}'.format(wnid, ', '.join(wn.lemmas[wnid]), wn.glosses.get(wnid, ''))]
    if paths:
        for path in wn.hypernym_paths(wnid):
            lines.append('    ' + ' > '.join(wn.name(node) for node in path))
    else:
        parents = ', '.join('{} {}'.format(p, wn.name(p)) for p in wn.hypernyms(wnid))
        lines.append('    {} {}'.format('instance of' if wn.is_instance(wnid) else 'is a', parents or '(root)'))
    return lines


def main(argv=None):
    from cli import cli_errors, make_parser

    parser = make_parser(DESCRIPTION, epilog=EXAMPLES)
    parser.add_argument('words', nargs='+', metavar='WORD', help='words, collocations or wnids to look up')
    parser.add_argument('--paths', action='store_true', help='print every hypernym path up to "entity"')
    parser.add_argument('--wordnet', default=DEFAULT_WORDNET_DIR, metavar='DIR',
                        help='WordNet 3.0 database directory with data.noun, index.noun and noun.exc '
                             '(default: %(default)s)')
    args = parser.parse_args(argv)
    with cli_errors():
        wn = load_wordnet(args.wordnet)
        for word in args.words:
            if word in wn:
                print('\n'.join(describe_synset(wn, word, args.paths)))
                continue
            found = wn.lookup(word)
            if not found:
                print('{}: no WordNet noun'.format(word))
            for base, wnids in found:
                print('{}{}: {} noun sense{}'.format(word, '' if base == normalize_lemma(word) else ' -> ' + base,
                                                    len(wnids), 's' if len(wnids) != 1 else ''))
                for rank, wnid in enumerate(wnids, start=1):
                    lines = describe_synset(wn, wnid, args.paths)
                    print('  {}. {}'.format(rank, lines[0]))
                    print('\n'.join('  ' + line for line in lines[1:]))


if __name__ == '__main__':
    main()
