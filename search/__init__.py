"""Semantic search: binary codes (`search.codes`), product quantization (`search.pq`), a faiss index of
image features with ids, labels and paths (`search.index`) and concept queries (`search.concepts`).

Submodules are imported on use; only `search.pq` and `search.index` need faiss.
"""
