"""The CIFAR-100 and CIFAR-10 class trees derived from WordNet 3.0.

Each class name is mapped to a WordNet noun synset by the hand-checked tables below. All hypernym
paths of these synsets are made a tree with the "mintree" of the ILSVRC tool
(`wordnet.build_mintree`), and inner nodes with a single child are removed. `derive_cifar_hierarchy.py`
writes the result as Cifar-Hierarchy's class_names.txt, hierarchy.txt and parent-child files.
"""
import wordnet
from taxonomy.indented import format_hierarchy

# Class name -> synset. A wnid is the synset the class *is*; ('below', wnid) makes the class a new
# leaf under that synset, for classes WordNet has no synset for. Entries without a comment are the
# first (most frequent) WordNet sense of the class name; every other choice says why.
CIFAR100_SYNSETS = {
    'apple': 'n07739125',
    'aquarium_fish': ('below', 'n02528163'),  # not in WordNet; ornamental fishes are teleosts
    'baby': 'n09827683',
    'bear': 'n02131653',
    'beaver': 'n02363005',      # the rodent, not its fur (first sense)
    'bed': 'n02818832',
    'bee': 'n02206856',
    'beetle': 'n02164464',
    'bicycle': 'n02834778',
    'bottle': 'n02876657',
    'bowl': 'n02881193',
    'boy': 'n10285313',
    'bridge': 'n02898711',
    'bus': 'n02924116',
    'butterfly': 'n02274259',
    'camel': 'n02437136',
    'can': 'n02946921',
    'castle': 'n02980441',      # the fortified castle, not "palace, castle: a stately mansion"
    'caterpillar': 'n02309337',
    'cattle': 'n02402425',
    'chair': 'n03001627',
    'chimpanzee': 'n02481823',
    'clock': 'n03046257',
    'cloud': 'n09247410',       # the atmospheric cloud, not "any visible collection of particles"
    'cockroach': 'n02233338',
    'couch': 'n04256520',
    'crab': 'n01976957',
    'crocodile': 'n01697178',
    'cup': 'n03147509',
    'dinosaur': 'n01699831',
    'dolphin': 'n02068974',     # the toothed whale, not the dolphinfish (first sense)
    'elephant': 'n02503517',
    'flatfish': 'n02657368',    # the fish, not its flesh (first sense)
    'forest': 'n09284015',      # "land covered with trees" (beside plain), not the vegetation
    'fox': 'n02118333',
    'girl': 'n10084295',        # female child; the first sense "a young woman" lies below woman
    'hamster': 'n02342885',
    'house': 'n03544360',
    'kangaroo': 'n01877134',
    'keyboard': 'n03085013',    # computer keyboard, not the generic "set of keys" (first sense)
    'lamp': 'n03636649',        # the piece of furniture, not "a source of illumination"
    'lawn_mower': 'n03649909',
    'leopard': 'n02128385',     # the cat, not its pelt (first sense)
    'lion': 'n02129165',
    'lizard': 'n01674464',
    'lobster': 'n01982650',     # the animal, not its flesh (first sense)
    'man': 'n10287213',
    'maple_tree': 'n12752205',  # "maple" (the tree; its first sense is the wood)
    'motorcycle': 'n03790512',
    'mountain': 'n09359803',
    'mouse': 'n02330245',
    'mushroom': 'n13001041',
    'oak_tree': 'n12268246',
    'orange': 'n07747607',
    'orchid': 'n12041446',
    'otter': 'n02444819',       # the animal, not its fur (first sense)
    'palm_tree': 'n12582231',
    'pear': 'n07767847',
    'pickup_truck': 'n03930630',
    'pine_tree': 'n11608250',
    'plain': 'n09393605',
    'plate': 'n03959485',       # the dish, not the baseball home plate (first sense)
    'poppy': 'n11900569',
    'porcupine': 'n02346627',
    'possum': 'n01874928',
    'rabbit': 'n02324045',
    'raccoon': 'n02508021',     # the animal, not its fur (first sense)
    'ray': 'n01495701',         # the fish, not a beam of light (first sense)
    'road': 'n04096066',
    'rocket': 'n04099429',
    'rose': 'n12620196',
    'sea': 'n09426788',
    'seal': 'n02076196',        # the marine mammal, not sealing wax (first sense)
    'shark': 'n01482330',
    'shrew': 'n01891633',       # the animal, not "a scolding woman" (first sense)
    'skunk': 'n02445715',       # the animal, not "a despicable person" (first sense)
    'skyscraper': 'n04233124',
    'snail': 'n01944390',
    'snake': 'n01726692',
    'spider': 'n01772222',
    'squirrel': 'n02355227',
    'streetcar': 'n04335435',
    'sunflower': 'n11978233',
    'sweet_pepper': 'n07720615',  # the vegetable (beside the fruits), not the plant (first sense)
    'table': 'n04379243',       # the furniture, not a table of data (first sense)
    'tank': 'n04389033',
    'telephone': 'n04401088',
    'television': 'n04405907',  # the receiver, not broadcasting (first sense)
    'tiger': 'n02129604',       # the cat, not "a fierce person" (first sense)
    'tractor': 'n04465501',
    'train': 'n04468005',
    'trout': 'n02537085',       # the fish, not its flesh (first sense)
    'tulip': 'n12454159',
    'turtle': 'n01662784',      # the reptile, not a turtleneck (first sense)
    'wardrobe': 'n04550184',
    'whale': 'n02063224',       # baleen whale: WordNet's "whale" (not its first sense, "a very large
                                # person") is a hypernym of dolphin, and most CIFAR whales are baleen whales
    'willow_tree': 'n12724942',
    'wolf': 'n02114100',
    'woman': 'n10787470',
    'worm': 'n01922303',
}

CIFAR10_SYNSETS = {
    'airplane': 'n02691156',
    'automobile': 'n02958343',
    'bird': 'n01503061',
    'cat': 'n02121620',
    'deer': 'n02430045',
    'dog': 'n02084071',
    'frog': 'n01639765',
    'horse': 'n02374451',
    'ship': 'n04194289',
    'truck': 'n04490091',
}

# WordNet is-a links that classify by use or by a side aspect rather than by kind. They are dropped
# (where the synset has another hypernym) so that all vehicles stay below "vehicle", the dog sits
# beside the cat below "carnivore" and the trout below "salmonid" instead of "food_fish".
IGNORED_LINKS = {
    ('n04576211', 'n03094503'),  # wheeled_vehicle is-a container
    ('n02084071', 'n01317541'),  # dog is-a domestic_animal
    ('n02537085', 'n02512938'),  # trout is-a food_fish
}

# Class order = label order of the datasets (alphabetical for both).
DATASETS = {
    'cifar100': dict(synsets=CIFAR100_SYNSETS, prefix='', out='cifar.parent-child.txt', names='cifar.names.txt'),
    'cifar10': dict(synsets=CIFAR10_SYNSETS, prefix='cifar10.', out='cifar10.parent-child.txt',
                    names='cifar10.names.txt'),
}


# ----------------------------------------------------------------------------- mapping

def class_nodes(synsets, wn):
    """Graph node of every class (its wnid, or a new leaf 'class:<name>') and a parents function."""
    nodes, new_leaves = {}, {}
    for name, target in synsets.items():
        if isinstance(target, tuple):
            kind, wnid = target
            if kind != 'below':
                raise ValueError('class {!r}: unknown mapping {!r}'.format(name, target))
            wn.check(wnid)
            nodes[name] = 'class:' + name
            new_leaves[nodes[name]] = (wnid,)
        else:
            nodes[name] = wn.check(target)
    if len(set(nodes.values())) != len(nodes):
        raise ValueError('two classes map to the same synset')

    def parents_of(node):
        if node in new_leaves:
            return new_leaves[node]
        parents = wn.hypernyms(node, include_instances=False)
        kept = tuple(p for p in parents if (node, p) not in IGNORED_LINKS)
        return kept or parents

    return nodes, parents_of


def is_first_sense(name, target, wn):
    return not isinstance(target, tuple) and wn.synsets(name)[:1] == (target,)


def check_classes_are_leaves(nodes, parents_of):
    """A class must not be a hypernym of another class: classes have to be the leaves of the tree."""
    node_to_class = {node: name for name, node in nodes.items()}
    for name, node in nodes.items():
        for path in wordnet.root_paths(node, parents_of):
            for ancestor in path[:-1]:
                if ancestor in node_to_class:
                    raise ValueError('class {!r} lies below class {!r} in WordNet'.format(name, node_to_class[ancestor]))


# ----------------------------------------------------------------------------- tree

def derive_tree(synsets, wn):
    """The pruned mintree over the classes: (dict child -> parent over nodes, dict node -> display name)."""
    nodes, parents_of = class_nodes(synsets, wn)
    check_classes_are_leaves(nodes, parents_of)
    class_node_list = list(nodes.values())
    tree = wordnet.build_mintree(class_node_list, parents_of)
    tree = wordnet.prune_single_child_nodes(tree, keep=class_node_list)
    return tree, node_names(tree, nodes, wn)


def node_names(tree, class_nodes, wn):
    """Unique display names: class names for classes, the first free lemma of a synset otherwise.

    A synset whose lemmas are all taken gets the WordNet sense name, e.g. 'whale.n.02'.
    """
    names = {node: name for name, node in class_nodes.items()}
    taken = set(names.values())
    inner = sorted((n for n in tree if n not in names), key=lambda n: (_depth(tree, n), n))
    for node in inner:
        candidates = [lemma for lemma in wn.lemmas[node] if lemma not in taken]
        names[node] = candidates[0] if candidates else sense_name(node, wn)
        taken.add(names[node])
    return names


def sense_name(wnid, wn):
    """WordNet's name of a synset by its head lemma and sense number, as in 'whale.n.02'."""
    lemma = wn.name(wnid)
    senses = wn.synsets(lemma)
    return '{}.n.{:02d}'.format(lemma, senses.index(wnid) + 1 if wnid in senses else 0)


def _depth(tree, node):
    depth = 0
    while tree[node] is not None:
        node, depth = tree[node], depth + 1
    return depth


def hierarchy_text(tree, names):
    """Indented tree with the children of every node sorted by name."""
    children = {parent: sorted((names[c] for c in kids)) for parent, kids in wordnet.tree_children(tree).items()}
    children = {names[parent]: kids for parent, kids in children.items()}
    roots = sorted(names[r] for r in wordnet.tree_roots(tree))
    return format_hierarchy(children, roots)


def mapping_table(synsets, wn):
    """The class -> synset table as text, each row saying whether it is the first sense or a hand choice."""
    rows = []
    for name, target in synsets.items():
        if isinstance(target, tuple):
            rows.append('{:15s} (new leaf below {} {})  hand choice'.format(name, target[1], wn.name(target[1])))
        else:
            how = 'first sense' if is_first_sense(name, target, wn) else 'hand choice'
            rows.append('{:15s} {} {:25s} {}'.format(name, target, ','.join(wn.lemmas[target][:2]), how))
    return '\n'.join(rows)
