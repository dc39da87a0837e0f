"""Online triplet mining inside a batch, in `keras.ops` (any Keras backend).

Every miner takes the (B, B) matrix of pairwise distances, the (B, B) boolean matrix "same class"
and a (B,) boolean mask of the rows that take part (sample weight > 0), and returns
`(losses, mined)`: the hinge losses max(0, d(a, p) - d(a, n) + margin) of its triplets and a
boolean mask of the triplets that exist. A triplet needs an anchor a, a positive p != a of a's
class and a negative n of another class, all three in the batch; a class with a single member in
the batch yields no anchor-positive pair.

- `batch_hard` (Hermans, Beyer & Leibe 2017, "In Defense of the Triplet Loss for Person
  Re-Identification"): per anchor, the farthest positive and the closest negative; (B,) triplets.
- `semi_hard` (Schroff, Kalenichenko & Philbin 2015, FaceNet): every anchor-positive pair, with
  the closest negative farther from the anchor than the positive (d(a, n) > d(a, p), strictly);
  if there is none, the farthest negative (the rule of TensorFlow's `triplet_semihard_loss`,
  the usual implementation of FaceNet's selection); (B, B) triplets.
- `all` (Hermans et al.'s "batch all"): every valid triplet; (B, B, B) triplets.

How a batch's loss is formed from them (`reduce_triplets`): batch_hard and semi_hard average over
their mined triplets, `all` averages over the active ones (positive loss; Hermans et al.'s
"BA, non-zero" average), as the three papers do. No mined (active) triplet: loss 0.
"""

from keras import ops

MINERS = ("batch_hard", "semi_hard", "all")


def pair_masks(same_class, row_mask):
    """Positive pairs (same class, not the anchor itself) and negative pairs among the rows taking part."""
    size = ops.shape(same_class)[0]
    both = ops.logical_and(ops.expand_dims(row_mask, 1), ops.expand_dims(row_mask, 0))
    not_self = ops.logical_not(ops.cast(ops.eye(size), "bool"))
    positive = ops.logical_and(ops.logical_and(same_class, not_self), both)
    negative = ops.logical_and(ops.logical_not(same_class), both)
    return positive, negative


def _hinge(x):
    return ops.maximum(x, 0.0)


def batch_hard(distance, same_class, row_mask, margin):
    positive, negative = pair_masks(same_class, row_mask)
    # Masked entries are replaced by constants that never win (distances are >= 0).
    hardest_positive = ops.max(ops.where(positive, distance, -1.0), axis=1)
    far = ops.max(distance) + 1.0
    hardest_negative = ops.min(ops.where(negative, distance, far), axis=1)
    mined = ops.logical_and(ops.any(positive, axis=1), ops.any(negative, axis=1))
    return _hinge(hardest_positive - hardest_negative + margin), mined


def semi_hard(distance, same_class, row_mask, margin):
    positive, negative = pair_masks(same_class, row_mask)
    d_ap = ops.expand_dims(distance, 2)  # [a, p, 1]
    d_an = ops.expand_dims(distance, 1)  # [a, 1, n]
    negative_an = ops.expand_dims(negative, 1)
    farther = ops.logical_and(negative_an, d_an > d_ap)  # [a, p, n]
    far = ops.max(distance) + 1.0
    closest_farther = ops.min(ops.where(farther, d_an, far), axis=2)  # [a, p]
    farthest = ops.max(ops.where(negative, distance, -1.0), axis=1, keepdims=True)  # [a, 1]
    chosen = ops.where(ops.any(farther, axis=2), closest_farther, farthest)
    mined = ops.logical_and(positive, ops.any(negative, axis=1, keepdims=True))
    return _hinge(distance - chosen + margin), mined


def all_triplets(distance, same_class, row_mask, margin):
    positive, negative = pair_masks(same_class, row_mask)
    losses = _hinge(ops.expand_dims(distance, 2) - ops.expand_dims(distance, 1) + margin)  # [a, p, n]
    mined = ops.logical_and(ops.expand_dims(positive, 2), ops.expand_dims(negative, 1))
    return losses, mined


MINER_FUNCTIONS = {"batch_hard": batch_hard, "semi_hard": semi_hard, "all": all_triplets}


def reduce_triplets(losses, mined, miner):
    """`(loss, num_active, num_mined)` of a batch: the mean over the mined triplets (`all`: over the active ones)."""
    mined_f = ops.cast(mined, "float32")
    active = ops.logical_and(mined, losses > 0)
    num_active = ops.sum(ops.cast(active, "float32"))
    num_mined = ops.sum(mined_f)
    total = ops.sum(losses * mined_f)
    divisor = num_active if miner == "all" else num_mined
    return ops.divide_no_nan(total, divisor), num_active, num_mined


def check_miner(miner):
    if miner not in MINER_FUNCTIONS:
        raise ValueError("--miner must be one of {}, got {!r}".format(", ".join(MINERS), miner))
    return miner
