"""Training: fit, resume and the feature dump, with the pieces of the other modules re-exported.

The pieces live in models/distribute.py (devices, replicas, mixed precision), models/checkpoints.py
(model files, snapshots), models/heads.py (model assembly and compile) and models/methods.py (the
training methods); every name they had here is still importable from `models.training`.
"""

import sys

import numpy as np

from models.distribute import (  # noqa: F401 -- re-exported: moved to models/distribute.py
    ReplicaPaddedBatches,
    SyncReplicaStatistics,
    configure_devices,
    for_replicas,
    gpu_compute_capability,
    is_chief,
    num_replicas,
    set_mixed_precision,
    sync_replica_variables,
)
from models.checkpoints import (  # noqa: F401 -- re-exported: moved to models/checkpoints.py
    MODEL_EXTENSIONS,
    AtomicModelCheckpoint,
    check_model_path,
    check_weights_path,
    copy_optimizer_state,
    load_model,
    load_weights_by_name,
    save_model,
    save_weights,
)

from models.heads import (  # noqa: F401 -- re-exported: moved to models/heads.py
    CLS_WEIGHT_DECAY,
    OUTPUT_HEADS,
    accuracy_log_key,
    build_embedding_model,
    check_loss,
    cls_model,
    compile_model,
    freeze_pretrained,
    has_cls_head,
    loss_and_metrics,
    make_targets,
    target_transform,
    transform_inputs,
    unfreeze,
)
from models.methods import CLASSIFICATION_LOSS, METHODS

LOSSES = tuple(METHODS)  # the names --loss accepts
EMBEDDING_LOSSES = tuple(name for name, method in METHODS.items() if not method.onehot_only)


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


def class_scores(features, embedding, dot_prod_sim=True):
    """Score of every class for every feature row: dot product with the class embeddings, or the
    negative squared Euclidean distance to them (`dot_prod_sim=False`)."""
    features = np.asarray(features, dtype=np.float64)
    embedding = np.asarray(embedding, dtype=np.float64)
    sim = features @ embedding.T
    if dot_prod_sim:
        return sim
    return 2 * sim - (embedding**2).sum(axis=1)[None, :] - (features**2).sum(axis=1)[:, None]


def print_evaluation(results, file=sys.stdout):
    """Print `model.evaluate(..., return_dict=True)` one metric a line."""
    width = max((len(k) for k in results), default=0)
    print("Final evaluation on the test set:", file=file)
    for name, value in results.items():
        print("  {:{}s} {:.4f}".format(name, width, float(np.asarray(value))), file=file)
