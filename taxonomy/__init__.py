"""Class taxonomies: building them, reading and writing their files, drawing them.

The library behind the taxonomy commands at the top of the repository (each a thin command line):

- `taxonomy.indented`    the hand-written indented tree format (``hierarchy.txt``) and its encoding as
                         integer ``parent child`` pairs (``encode_hierarchy.py``)
- `taxonomy.wnids`       class lists of WordNet ids and their WordNet "mintree" (``wordnet_hierarchy.py``)
- `taxonomy.cifar`       the hand-checked CIFAR-100/-10 class -> synset tables (``derive_cifar_hierarchy.py``)
- `taxonomy.names`       class names -> WordNet noun synsets (``taxonomy_from_names.py``)
- `taxonomy.named_tree`  a WordNet tree whose leaves are a dataset's class names (``taxonomy_from_names.py``)
- `taxonomy.plot`        tree layouts and pictures (``plot_hierarchy.py``)
- `taxonomy.files`       edge and node-name files shared by all of them

WordNet itself is read by the top-level module `wordnet`. Nothing here imports Keras.
"""
