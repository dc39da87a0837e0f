"""Class names -> WordNet noun synsets: folder names such as `airplanes`, `Faces`, `cougar_body`.

How a name is matched (`match_name`), in this order:

1. `wnid`: the name is a wnid (`n02084071`) of WordNet 3.0.
2. `override`: the override file maps it (`name wnid` per line, see `read_overrides`).
3. The whole name as a WordNet lemma. It is split into words at underscores, hyphens, spaces, dots
   and lower-to-upper case changes (`WindsorChair`), lower-cased and joined by underscores, as
   WordNet writes collocations; inflected forms are reduced by WordNet's morphology
   (`wordnet.WordNet.morphy`: the exception list noun.exc and the suffix rules, so `airplanes` ->
   airplane, `Faces` -> face, `mice` -> mouse). `exact` if the name is a lemma as it is,
   `morphology` if a base form of it is.
4. `variant`: the words written together or hyphenated (`wild_cat` -> wildcat, `t_shirt` -> t-shirt).
5. `part`: only some of the words are a WordNet noun, and every word is an English word WordNet
   knows (else the name is unmatched: `water_lilly` is a misspelling, not a kind of water). Of the
   longest matching parts, a sense of one part that is a kind of another part's first sense wins
   (`maple_tree`: the maple that is a tree, not maple wood); otherwise the part whose first sense lies deepest
   in WordNet, i.e. the most specific one (`cougar_body` -> cougar, `aquarium_fish` -> fish).
6. `unmatched`: none of the above; the caller reports it as an error.

Of the senses found, the first (most frequent) is chosen unless the rules above say otherwise; a
match with several senses is `ambiguous`, and the report lists the others.
"""
import os
import re
from dataclasses import dataclass

from taxonomy.wnids import WNID_PATTERN

MATCH_KINDS = ('wnid', 'override', 'exact', 'morphology', 'variant', 'part', 'unmatched')

_SEPARATORS = re.compile(r'[_\-\s.]+')
_CASE_WORDS = re.compile(r'[A-Z]+\d*(?![a-z])|[A-Z]?[a-z]+\d*|\d+')


@dataclass(frozen=True)
class ClassMatch:
    """The synset chosen for one class name, how it was found and what else it could have been."""
    name: str
    wnid: object           # the chosen synset, None if unmatched
    kind: str              # one of MATCH_KINDS
    lemma: str = ''        # the WordNet lemma that matched (e.g. 'airplane' for 'airplanes')
    senses: tuple = ()     # all candidate synsets of that lemma, most frequent first
    note: str = ''         # why, where the rule needs saying (parts, overrides)

    @property
    def ambiguous(self):
        return len(self.senses) > 1

    @property
    def alternatives(self):
        return tuple(w for w in self.senses if w != self.wnid)


class UnmatchedClassesError(ValueError):
    """Some class names have no WordNet synset; the message says how to map them by hand."""

    def __init__(self, names):
        self.names = list(names)
        super().__init__(
            'no WordNet noun found for {} class name{}: {}; map {} in an override file (--override FILE, one '
            '"name wnid" per line; look wnids up with: python wordnet.py WORD)'.format(
                len(self.names), 's' if len(self.names) != 1 else '', ', '.join(map(repr, self.names)),
                'it' if len(self.names) == 1 else 'them'))


# ----------------------------------------------------------------------------- matching one name

def split_name(name):
    """Lower-case words of a class name: 'WindsorChair' and 'windsor-chair' -> ['windsor', 'chair']."""
    words = []
    for part in _SEPARATORS.split(name.strip()):
        if part.isascii() and part.isalnum():  # camel case is split only where it is unambiguous
            words.extend(w.lower() for w in _CASE_WORDS.findall(part))
        elif part:
            words.append(part.lower())
    return words


def phrase_variants(words):
    """Spellings of a multi-word name to try after the plain collocation: together and hyphenated."""
    variants = ['_'.join(words), ''.join(words), '-'.join(words)]
    for i in range(len(words) - 1):
        for glue in ('', '-'):
            variants.append('_'.join(words[:i] + [words[i] + glue + words[i + 1]] + words[i + 2:]))
    return list(dict.fromkeys(variants))  # unique, in order


def _senses_of(lookup_result):
    senses = []
    for _, wnids in lookup_result:
        senses.extend(w for w in wnids if w not in senses)
    return tuple(senses)


def match_name(name, wn):
    """The `ClassMatch` of one class name (never an override: see `match_classes`)."""
    if WNID_PATTERN.match(name) and name in wn:
        return ClassMatch(name, name, 'wnid', wn.name(name), (name,))
    words = split_name(name)
    if not words:
        return ClassMatch(name, None, 'unmatched', note='no letters')
    for i, phrase in enumerate(phrase_variants(words)):
        found = wn.lookup(phrase)
        if found:
            lemma, senses = found[0][0], _senses_of(found)
            kind = 'variant' if i > 0 else 'exact' if lemma == phrase else 'morphology'
            return ClassMatch(name, senses[0], kind, lemma, senses)
    if len(words) > 1:
        return _match_part(name, words, wn)
    return ClassMatch(name, None, 'unmatched')


def _match_part(name, words, wn):
    unknown = [w for w in words if not wn.is_word(w)]
    if unknown:
        return ClassMatch(name, None, 'unmatched', note='{} not in WordNet'.format(', '.join(map(repr, unknown))))
    for length in range(len(words) - 1, 0, -1):
        parts = []
        for start in range(len(words) - length + 1):
            found = wn.lookup('_'.join(words[start:start + length]))
            if found:
                parts.append((found[0][0], _senses_of(found)))
        if parts:
            return _choose_part(name, parts, wn)
    return ClassMatch(name, None, 'unmatched')


def _choose_part(name, parts, wn):
    """Of several matching parts of a name, the sense that is-a another part's first sense, else the most
    specific part (its first sense deepest below the root)."""
    lemmas = [lemma for lemma, _ in parts]
    for lemma, senses in parts:
        for wnid in senses:
            ancestors = wn.ancestors(wnid)
            for other, other_senses in parts:
                if other != lemma and other_senses[0] in ancestors:
                    return ClassMatch(name, wnid, 'part', lemma, senses,
                                      note='{} (a kind of {})'.format(lemma, other))
    depths = [min(len(path) for path in wn.hypernym_paths(senses[0])) for _, senses in parts]
    best = max(range(len(parts)), key=lambda i: (depths[i], i))  # ties: the right-most part, the English head
    lemma, senses = parts[best]
    note = lemma if len(parts) == 1 else '{}, the most specific of {}'.format(lemma, ', '.join(lemmas))
    return ClassMatch(name, senses[0], 'part', lemma, senses, note=note)


# ----------------------------------------------------------------------------- class lists and overrides

def read_overrides(path, wn):
    """An override file: dict class name -> (wnid, 'file:line'). Lines `name wnid`, `#` starts a comment."""
    overrides = {}
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.split('#', 1)[0].split()
            if not fields:
                continue
            where = '{}:{}'.format(path, line_no)
            if len(fields) != 2:
                raise ValueError('{}: expected "class_name wnid", got {!r}'.format(where, line.strip()))
            name, wnid = fields
            if not WNID_PATTERN.match(wnid):
                raise ValueError('{}: {!r} is not a WordNet noun id (expected n + 8 digits)'.format(where, wnid))
            if wnid not in wn:
                raise ValueError('{}: {} is not a synset of WordNet 3.0 nouns'.format(where, wnid))
            if name in overrides:
                raise ValueError('{}: a second override for {!r} (first at {})'.format(where, name, overrides[name][1]))
            overrides[name] = (wnid, where)
    return overrides


def match_classes(class_names, wn, overrides=None):
    """A `ClassMatch` for every class name, in order; overrides (from `read_overrides`) come first.

    Raises ValueError for an override naming no class, and `UnmatchedClassesError` (a ValueError)
    listing every name without a synset.
    """
    overrides = overrides or {}
    unknown = [(name, where) for name, (_, where) in overrides.items() if name not in set(class_names)]
    if unknown:
        raise ValueError('{}: override for {!r}, which is not one of the {} classes'.format(
            unknown[0][1], unknown[0][0], len(class_names)))
    matches = []
    for name in class_names:
        if name in overrides:
            wnid, where = overrides[name]
            matches.append(ClassMatch(name, wnid, 'override', wn.name(wnid), (wnid,), note=where))
        else:
            matches.append(match_name(name, wn))
    unmatched = [m.name for m in matches if m.wnid is None]
    if unmatched:
        raise UnmatchedClassesError(unmatched)
    return matches


def read_class_names(source):
    """Class names from a folder of class sub-directories (its `train/` if there is one) or a list file.

    A list file has one name per line (or `index name`), or is a CIFAR meta pickle. Hidden
    sub-directories (starting with '.') are skipped. Names must not contain whitespace: they
    become node ids of a `parent child` file.
    """
    from taxonomy.indented import read_class_names as read_list

    if os.path.isdir(source):
        folder = os.path.join(source, 'train') if os.path.isdir(os.path.join(source, 'train')) else source
        names = sorted(entry for entry in os.listdir(folder)
                       if not entry.startswith('.') and os.path.isdir(os.path.join(folder, entry)))
        if not names:
            raise ValueError('{}: no class sub-directories'.format(folder))
        spaced = [n for n in names if len(n.split()) != 1]
        if spaced:
            raise ValueError('{}: class name {!r} contains whitespace, which a "parent child" file cannot hold; '
                             'rename the folder'.format(folder, spaced[0]))
        return names
    return read_list(source)


# ----------------------------------------------------------------------------- reports

def match_details(match, wn, max_alternatives=3):
    """How a match was found: 'morphology: face; sense 1 of 13; also: n04679738 expression, ...'."""
    details = [match.kind]
    if match.kind in ('morphology', 'variant', 'part', 'override'):
        details[0] += ': ' + (match.note or match.lemma)
    if match.ambiguous:
        details.append('sense {} of {}'.format(match.senses.index(match.wnid) + 1, len(match.senses)))
        others = ['{} {}'.format(w, wn.name(w)) for w in match.alternatives[:max_alternatives]]
        details.append('also: ' + ', '.join(others) + (', ...' if len(match.alternatives) > max_alternatives else ''))
    if wn.is_instance(match.wnid):
        details.append('an instance')
    return '; '.join(details)


def describe_match(match, wn):
    """One report line: 'Faces -> n05600637 face (morphology: face; sense 1 of 13; also: ...)'."""
    return '{} -> {} {} ({})'.format(match.name, match.wnid, wn.name(match.wnid), match_details(match, wn))


def needs_report(match):
    """Whether a match is worth a look: ambiguous, or not found as the name is written."""
    return match.ambiguous or match.kind in ('morphology', 'variant', 'part')


def mapping_lines(matches, wn):
    """The chosen mapping in the override-file format, with the how and the gloss as comments."""
    lines = ['# class name -> WordNet 3.0 noun synset (taxonomy_from_names.py); edit and pass as --override']
    for m in matches:
        gloss = wn.glosses.get(m.wnid, '')
        lines.append('{} {}  # {} | {}: {}'.format(m.name, m.wnid, match_details(m, wn),
                                                    ', '.join(wn.lemmas[m.wnid][:3]), gloss))
    return lines
