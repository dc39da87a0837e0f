"""Query an index built by build_index.py: by feature vectors, by images, or by a concept of the taxonomy.

Prints the top --top images of each query with their class and similarity, writes them as JSON (--json)
and draws them (--grid), framed by their class similarity to the query. A concept query (--concept) can be
a class or an inner node of the taxonomy (an id, a name of --names, or, for WordNet ids, a lemma such
as "dog"); its vector is made from the class embeddings of the classes below it (--concept_vector).
--concept_map scores concept queries: for every inner node, the AP of finding the images of the classes
below it, for every way of making the vector.

Examples:
    python retrieve.py --index cifar10.index.npz --query_feat feat.pickle --query_ids 0 1 2 --top 10
    python retrieve.py --index cifar10.index.npz --image cat.jpg --model model.keras --dataset CIFAR-10 \\
        --data_root /data/cifar-10-batches-py --grid results.png
    python retrieve.py --index cifar10.index.npz --concept vehicle --hierarchy Cifar-Hierarchy/cifar10.parent-child.txt \\
        --names cifar10.names.txt --classes_from embeddings/cifar10.unitsphere.pickle --grid vehicle.png
"""

import os

import cli
from search.concepts import CONCEPT_VECTORS


def build_parser():
    parser = cli.make_parser(__doc__.split("\n\nExamples:")[0], epilog="Examples:" + __doc__.split("Examples:")[1])
    parser.add_argument("--index", required=True, metavar="INDEX", help="Index file written by build_index.py.")
    parser.add_argument("--top", type=cli.positive_int, default=10, metavar="K", help="Results per query.")
    parser.add_argument("--nprobe", type=cli.positive_int, default=None, metavar="CELLS",
                        help="IVF indexes (ivfpq, binary_ivf): cells searched per query (default: the index's).")
    group = parser.add_argument_group("Queries (one kind)")
    kinds = group.add_mutually_exclusive_group(required=True)
    kinds.add_argument("--query_feat", metavar="FEATURES",
                       help="Feature file of query images (the formats of evaluate_retrieval.py).")
    kinds.add_argument("--image", nargs="+", metavar="FILE", help="Query image files, embedded with --model.")
    kinds.add_argument("--concept", metavar="NODE",
                       help="A class or inner node of --hierarchy: id, name (--names) or WordNet lemma.")
    kinds.add_argument("--concept_map", action="store_true",
                       help="Score concept queries of every inner node (needs an index with labels).")
    group.add_argument("--query_ids", nargs="+", default=None, metavar="ID",
                       help="--query_feat: only the images with these ids (default: all).")
    group.add_argument("--query_class", nargs="+", default=None, metavar="CLASS",
                       help="Class id of each query (one for all): frames show class similarity to it. "
                            "Default: the class predicted from --classes_from.")
    group = parser.add_argument_group("Image queries")
    group.add_argument("--model", metavar="MODEL", help="Trained model (.keras) whose first output is the embedding.")
    group.add_argument("--dataset", metavar="NAME", default=None,
                       help="Dataset whose test-time preprocessing the query images get (default: the index's).")
    group.add_argument("--data_root", metavar="DIR", default=None, help="Its root directory (default: the index's).")
    group = parser.add_argument_group("Taxonomy and class embedding (concepts, frames)")
    cli.add_hierarchy_arguments(group, required=False)
    group.add_argument("--classes_from", metavar="EMBEDDING", default=None,
                       help="Class-embedding file: vectors of concepts, predicted classes of queries "
                            "(default: the index's).")
    group.add_argument("--names", metavar="FILE", default=None,
                       help="Node names: 'id name' lines (encode_hierarchy.py --names_out) or class names in "
                            "label order.")
    group.add_argument("--concept_vector", default="mean", choices=list(CONCEPT_VECTORS),
                       help="How a concept's vector is made from the class embeddings below it: mean "
                            "(normalized mean), balanced (each child branch weighs the same), minimax (largest "
                            "smallest similarity), medoid (the class nearest to the mean).")
    group.add_argument("--wordnet_dir", default=None, metavar="DIR",
                       help="WordNet 3.0 database for lemmas of WordNet ids (default: /usr/share/wordnet).")
    group = parser.add_argument_group("Output")
    group.add_argument("--json", metavar="FILE", default=None, help="Write the results as JSON.")
    group.add_argument("--grid", metavar="PNG", default=None, help="Draw the queries and their results.")
    return parser


def _wordnet_for(hierarchy, wordnet_dir):
    """The WordNet reader where the hierarchy's nodes are WordNet ids and WordNet is installed, else None."""
    from search.concepts import WNID_PATTERN

    if hierarchy is None or not any(isinstance(n, str) and WNID_PATTERN.match(n) for n in hierarchy.nodes):
        return None
    import wordnet

    directory = wordnet_dir or wordnet.DEFAULT_WORDNET_DIR
    if not os.path.isfile(os.path.join(directory, "data.noun")):
        if wordnet_dir:
            raise cli.UsageError("--wordnet_dir {}: no WordNet data.noun there".format(wordnet_dir))
        return None
    return wordnet.load_wordnet(directory)


def main(argv=None):
    from search import retrieval

    args = build_parser().parse_args(argv)
    with cli.cli_errors():
        for flag in ("json", "grid"):
            cli.check_output_dir(getattr(args, flag), "--" + flag)
        hierarchy = cli.hierarchy_from_args(args)
        if (args.concept or args.concept_map) and hierarchy is None:
            raise cli.UsageError("--concept and --concept_map need --hierarchy")
        if args.image and not args.model:
            raise cli.UsageError("--image needs --model (the network that embeds the query images)")
        session = retrieval.RetrievalSession(
            args.index, hierarchy=hierarchy, hierarchy_file=args.hierarchy, classes_from=args.classes_from,
            names_file=args.names, wordnet=_wordnet_for(hierarchy, args.wordnet_dir), dataset=args.dataset,
            data_root=args.data_root, nprobe=args.nprobe)
        if args.concept_map:
            document = session.concept_map()
            print(retrieval.format_concept_map(document))
        else:
            if args.query_feat:
                queries, features = session.feature_queries(args.query_feat, args.query_ids)
            elif args.image:
                queries, features = session.image_queries(args.image, args.model)
            else:
                queries, features = session.concept_query(args.concept, args.concept_vector)
            document = session.answer(queries, features, args.top, query_classes=args.query_class,
                                      what=args.query_feat or "the query features")
            print(retrieval.format_document(document))
            if args.grid:
                session.draw(queries, document, args.grid)
        if args.json:
            from search.query import write_json

            write_json(args.json, document)
    return document


if __name__ == "__main__":
    main()
