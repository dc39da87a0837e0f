"""search.codes and search.pq against slow, obviously-correct references."""

import numpy as np
import pytest

from search import codes


def slow_hamming(a_bytes, b_bytes):
    """Popcount of the XOR, byte by byte, in plain Python."""
    return sum(bin(int(x) ^ int(y)).count("1") for x, y in zip(a_bytes, b_bytes))


def test_sign_codes_zero_is_plus_one():
    x = np.array([[0.0, -0.0, -1e-30, 2.0, -3.0, 1e-30, 0.5, -0.5]])
    np.testing.assert_array_equal(codes.sign_codes(x), [[1, 1, -1, 1, -1, 1, 1, -1]])
    assert codes.sign_codes(x).dtype == np.float32


def test_pack_unpack_round_trip_and_bit_order():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 24))
    packed = codes.pack_bits(x)
    assert packed.shape == (7, 3) and packed.dtype == np.uint8
    np.testing.assert_array_equal(codes.unpack_bits(packed), codes.sign_codes(x))
    # bit j in byte j // 8 at position 7 - j % 8 (first component = most significant bit)
    one_hot = -np.ones((1, 8))
    one_hot[0, 0] = 1
    assert codes.pack_bits(one_hot)[0, 0] == 0x80


@pytest.mark.parametrize("num_bits", [12, 0, 7, 65])
def test_pack_bits_rejects_bit_counts_not_multiple_of_8(num_bits):
    with pytest.raises(ValueError, match=r"\b{}\b.*multiple of 8".format(num_bits)):
        codes.pack_bits(np.ones((2, num_bits)))


@pytest.mark.parametrize("num_bits", [8, 24, 64, 72, 128])
def test_hamming_distances_against_slow_popcount(num_bits):
    rng = np.random.default_rng(num_bits)
    a = codes.pack_bits(rng.standard_normal((9, num_bits)))
    b = codes.pack_bits(rng.standard_normal((13, num_bits)))
    expected = np.array([[slow_hamming(x, y) for y in b] for x in a])
    np.testing.assert_array_equal(codes.hamming_distances(a, b), expected)


def test_hamming_equals_quarter_squared_distance_of_sign_codes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 32))
    s = codes.sign_codes(x)
    squared = ((s[:, None, :] - s[None, :, :]) ** 2).sum(-1)
    np.testing.assert_array_equal(4 * codes.hamming_distances(codes.pack_bits(x), codes.pack_bits(x)), squared)
    np.testing.assert_allclose(codes.code_similarity(codes.hamming_distances(codes.pack_bits(x), codes.pack_bits(x)),
                                                     32), s @ s.T / 32)


def test_hamming_distances_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="16 bits.*8"):
        codes.hamming_distances(np.zeros((1, 2), np.uint8), np.zeros((1, 1), np.uint8))


def test_ranking_is_stable_by_index_against_slow_sort():
    rng = np.random.default_rng(2)
    # 8-bit codes of 200 images: many exact ties
    database = codes.pack_bits(rng.standard_normal((200, 8)))
    queries = codes.pack_bits(rng.standard_normal((6, 8)))
    distances = codes.hamming_distances(queries, database)
    for top in (None, 1, 17, 200):
        ranking = codes.rank_by_hamming(distances, top)
        for q, query in enumerate(queries):
            d = [slow_hamming(query, image) for image in database]
            expected = sorted(range(len(database)), key=lambda j: (d[j], j))[:top]
            assert ranking[q].tolist() == expected
    hd, hi = codes.hamming_search(queries, database, 17)
    np.testing.assert_array_equal(hi, codes.rank_by_hamming(distances, 17))
    np.testing.assert_array_equal(hd, np.take_along_axis(distances, hi, axis=1))


def test_pq_codes_are_nearest_centroids():
    faiss = pytest.importorskip("faiss")
    from search import pq as pq_module

    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    pq = pq_module.train_pq(x, 4, seed=0)
    centroids = faiss.vector_to_array(pq.centroids).reshape(4, 256, 4)
    encoded = pq_module.pq_encode(pq, x)
    assert encoded.shape == (300, 4)
    # brute force: the nearest centroid of every sub-vector
    sub = x.reshape(300, 4, 4)
    d = ((sub[:, :, None, :] - centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(encoded, d.argmin(-1))
    expected = centroids[np.arange(4)[None, :], d.argmin(-1)].reshape(300, 16)
    np.testing.assert_allclose(pq_module.pq_decode(pq, encoded), expected)
    np.testing.assert_allclose(pq_module.pq_reconstruct(x, 4, seed=0), expected)
    assert pq_module.pq_memory_bytes(300, 4) == 1200


def test_pq_bad_sizes():
    pytest.importorskip("faiss")
    from search import pq as pq_module

    x = np.random.default_rng(0).standard_normal((300, 64))
    with pytest.raises(ValueError, match="12 bytes.*64"):
        pq_module.pq_reconstruct(x, 12)
    with pytest.raises(ValueError, match="at least 256.*got 100"):
        pq_module.pq_reconstruct(x[:100], 16)


def test_hamming_without_numpy_bitwise_count(monkeypatch):
    """numpy < 2.0 has no bitwise_count: the byte-table fallback gives the same distances."""
    rng = np.random.default_rng(4)
    a, b = codes.pack_bits(rng.standard_normal((5, 72))), codes.pack_bits(rng.standard_normal((6, 72)))
    expected = np.array([[slow_hamming(x, y) for y in b] for x in a])
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    np.testing.assert_array_equal(codes.hamming_distances(a, b), expected)
