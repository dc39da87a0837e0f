"""Wrote tests/data/model_before_portable_files.* with the code of commit 563021f (L2Normalize layer, metric configs holding
the class-embedding matrix), before the portable model files. Kept for reference; run from the repository root."""
import numpy as np, keras
from models import training as T
keras.utils.set_random_seed(0)
embedding = np.eye(3, dtype=np.float32) * 0.8 + 0.2 / np.sqrt(3)
embedding /= np.linalg.norm(embedding, axis=1, keepdims=True)
model, _ = T.build_embedding_model(3, "simple", "inv_corr", input_channels=1, filters=[4, "gap", "fc8"])
model = T.cls_model(model, 3)
T.compile_model(model, embedding, cls_weight=0.5, lr=0.05, decay=0.01, top_k=(2,))
x = np.random.default_rng(0).normal(size=(6, 8, 8, 1)).astype(np.float32)
y = np.array([0, 1, 2, 0, 1, 2])
model.fit(x, (embedding[y], np.eye(3, dtype=np.float32)[y]), epochs=1, batch_size=6, verbose=0)
assert type(model.get_layer("l2norm")).__name__ == "L2Normalize"
T.save_model(model, "tests/data/model_before_portable_files.keras")
np.save("tests/data/model_before_portable_files.probe.npy", x)
out = model.predict(x, verbose=0)
np.savez("tests/data/model_before_portable_files.expected.npz", embedding=out[0], prob=out[1], class_embedding=embedding)
print(model.optimizer.iterations.numpy())
