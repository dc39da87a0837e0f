"""Retrieval and classification metrics of the paper, vectorized, giving the original release's numbers.

Retrieval (every test image is a query against all test images):

- ``P@k (T)``: hierarchical precision at k (Deng, Berg, Fei-Fei 2011), the sum of the class similarities
  between the query and the top k results divided by the best possible such sum,
- ``AHP (T)`` / ``AHP@K (T)``: the area under the HP@k curve over the whole ranking / its first K positions,
- ``AP``: classical average precision, all classes but the query's own being equally wrong,

where the class similarity ``T`` is ``WUP`` (Wu-Palmer) or ``LCS_HEIGHT`` (``1 - height(lcs) / height(root)``).

Conventions of the original ``ClassHierarchy.hierarchical_precision``, kept on purpose (quirks included):

1. The ideal ranking of a query is computed over its *whole* ranking, query included: the similarities
   of all ranked images, sorted in descending order, then cumulated. It is computed once per class label,
   from the first query of that label (for full rankings of the same database every query sees the same
   images, so this does not matter; for rankings of different lengths it does, and we keep it).
2. The query is removed from its own ranking (``ignore_qids``) at its position ``q`` in it, and the ideal
   cumulative curve becomes ``concat(cum[:q], cum[q+1:] - 1.0)``: ``1.0`` is subtracted (the self-similarity
   of a leaf class), not the actual similarity of the query's class to itself, and the entries before ``q``
   are left as they are. The original removes the query only if it lies within the part of the ranking it
   scores (the top ``kmax + 1`` unless the full AHP is wanted); a query further down changes neither the
   scored prefix nor the ideal curve before it, so we remove it wherever it is, with the same numbers.
3. A query absent from its own ranking (possible when rankings are given explicitly and ``all_ids`` is not)
   is not removed and its ideal curve is not adjusted.
4. Images missing from a ranking are appended at its end in the order of ``all_ids`` (when given).
5. ``P@k = sum(s[:k]) / ideal[k-1]``; ``AHP = trapezoid(cumsum(s) / ideal, dx=1/n)`` with ``n`` the length
   of the ranking without the query, i.e. ``mean(cumsum(s)/ideal) - (first + last) / (2n)``, not 1 for a
   perfect ranking but ``1 - 1/n``; ``AHP@K`` uses the first K positions and ``dx = 1/K``.
6. ``AP`` is scikit-learn's ``average_precision_score`` on the ranking without the query (every occurrence of
   it), scores decreasing with the rank, so there are no ties. A query whose class has no other image gets
   ``AP = 0`` (what scikit-learn returns today; versions of 2019 returned NaN).
7. WUP uses the deepest common hypernym (``lcs`` with maximum depth) and depths counted with roots at 1; both
   similarity tables come from ``ClassHierarchy.wup_matrix`` / ``lcs_height_matrix``, which equal the
   per-pair ``wup_similarity`` / ``lcs_height`` of the original exactly.
8. Means are plain sums over the queries in their order divided by their number, as the original did.

The package's modules (``import metrics`` gives all of their public names):

- ``metrics.scoring``: metric names, argument checks and the HP/AHP/AP kernels both retrieval entry points share,
- ``metrics.ranking``: ranking by distance, ties broken by image index,
- ``metrics.retrieval``: every image as a query against all images, from features (``RetrievalEvaluator``,
  ``retrieval_metrics``),
- ``metrics.ranked_lists``: explicit rankings (the original's ``hierarchical_precision`` API),
- ``metrics.classification``: flat and hierarchical classification accuracy,
- ``metrics.hierarchical``: LCA heights, mistake severity, hierarchical distance@k and conditional risk
  minimization (CRM) of the hierarchy-aware classification literature.
"""

# The private _DistanceBlocks and _SimilarityRows are tested directly (tests/test_metrics.py).
from .classification import CLASSIFICATION_METRICS, classification_metrics
from .hierarchical import (HIERARCHICAL_CLASSIFICATION_METRICS, HIERARCHICAL_DISTANCE_KS, crm_scores,
                           distance_name, hierarchical_distance, hierarchical_mistake_metrics, lca_heights,
                           mistake_severity, rank_classes)
from .ranked_lists import hierarchical_precision
from .ranking import rank_by_distance
from .retrieval import RetrievalEvaluator, _DistanceBlocks, retrieval_metrics
from .scoring import (DEFAULT_KS, PREC_TYPES, SIMILARITIES, _SimilarityRows, ahp_name, check_ahp, check_ks,
                      check_prec_types, metric_names)

__all__ = [
    "CLASSIFICATION_METRICS", "DEFAULT_KS", "PREC_TYPES", "SIMILARITIES", "RetrievalEvaluator", "ahp_name",
    "check_ahp", "check_ks", "check_prec_types", "classification_metrics", "hierarchical_precision",
    "metric_names", "rank_by_distance", "retrieval_metrics",
    "HIERARCHICAL_CLASSIFICATION_METRICS", "HIERARCHICAL_DISTANCE_KS", "crm_scores", "distance_name",
    "hierarchical_distance", "hierarchical_mistake_metrics", "lca_heights", "mistake_severity", "rank_classes",
]
