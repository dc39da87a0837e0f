"""Images for the index and the query tool: dataset labels and paths, query images through the dataset's
own test-time preprocessing and a trained model, and pictures of database images for the result grid.

Datasets are duck-typed (as `datasets` builds them): file datasets have `test_img_files`, `cropsize` and
`compose_batch(filenames, cropsize=..., normalize=True)`; in-memory datasets have `X_train`, `X_test`,
`image_shape` and `normalize(images)`.
"""

import numpy as np


def load_dataset(dataset, data_root=None, classes_from=None, **dataset_kwargs):
    """The dataset object of `datasets.get_data_generator`, restricted to the classes of the class-embedding
    file `classes_from` (numbered in its order, as the model was trained) where given."""
    import datasets
    import utils

    classes = utils.load_class_embedding(classes_from)["ind2label"] if classes_from else None
    return datasets.get_data_generator(dataset, data_root, classes=classes, **dataset_kwargs)


def test_labels_and_paths(data, ids=None):
    """(class ids, image paths or None) of the test images `ids` (indices into the test split; default all).

    ValueError naming the id when one is not an index of the test split."""
    import cli

    labels = np.asarray(data.labels_test).tolist()
    files = getattr(data, "test_img_files", None)
    ids = list(range(len(labels))) if ids is None else list(ids)
    rows = []
    for image_id in ids:
        if isinstance(image_id, bool) or not isinstance(image_id, (int, np.integer)) or not 0 <= image_id < len(labels):
            raise ValueError("image id {!r} is not an index of the {} test images".format(image_id, len(labels)))
        rows.append(int(image_id))
    class_ids = cli.class_ids(data, [labels[r] for r in rows])
    paths = [str(files[r]) for r in rows] if files is not None and len(files) else None
    return class_ids, paths


def decode_image(path):
    """The image file `path` as an RGB PIL image; ValueError naming the file if it does not decode."""
    import PIL.Image

    try:
        with PIL.Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except FileNotFoundError:
        raise ValueError("{}: no such image file".format(path)) from None
    except (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError) as e:
        raise ValueError("{}: cannot decode the image ({})".format(path, e)) from None


def preprocess_query_images(paths, data):
    """Network inputs (N, H, W, C) float32 of the image files `paths`, as the dataset prepares its test images.

    File datasets: their test-time resize, central crop and normalization (`compose_batch`). In-memory
    datasets: resized to their image size (grey for one channel), scaled to the range of their pixel values
    (the digits' grey values go up to 16, not 255) and normalized by their channel statistics.
    """
    for path in paths:  # a one-line error naming the file before anything is computed
        decode_image(path)
    if hasattr(data, "compose_batch") and hasattr(data, "test_img_files"):
        return data.compose_batch(list(paths), cropsize=data.cropsize, normalize=True)
    height, width, channels = data.image_shape
    scale = float(np.max(data.X_train)) / 255.0 if data.X_train.size else 1.0
    images = []
    for path in paths:
        img = decode_image(path).convert("L" if channels == 1 else "RGB")
        if img.size != (width, height):
            import PIL.Image

            img = img.resize((width, height), PIL.Image.BILINEAR)
        pixels = np.asarray(img, dtype=np.float32).reshape(height, width, channels) * np.float32(scale)
        images.append(pixels)
    return data.normalize(np.stack(images))


def load_feature_model(path):
    """The Keras model in `path` cut at its first output (the embedding); ValueError naming the file."""
    import os

    if not os.path.isfile(path):
        raise ValueError("--model {}: no such file".format(path))
    import keras

    import models  # noqa: F401 -- registers the project's custom layers

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001 -- any reason a file is not a loadable model
        raise ValueError("--model {}: cannot load model: {}".format(path, str(e).splitlines()[0] if str(e) else e)) \
            from None
    return keras.Model(model.inputs, model.outputs[0])


def embed_images(paths, model_path, data, batch_size=32):
    """Features (N, D) of the image files `paths`: the dataset's preprocessing, then the model's first output."""
    inputs = preprocess_query_images(paths, data)
    model = load_feature_model(model_path)
    return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0)).reshape(len(paths), -1)


def database_pictures(rows, paths=None, data=None):
    """RGB pictures (uint8 arrays) of database images `rows`: decoded from `paths`, else the test images of
    the in-memory dataset `data`; None for an image that cannot be had (a grey tile is drawn)."""
    pictures = []
    for row in rows:
        picture = None
        if row is not None and row >= 0:
            if paths is not None:
                try:
                    picture = np.asarray(decode_image(paths[row]))
                except ValueError:
                    picture = None
            elif data is not None and hasattr(data, "X_test"):
                picture = _to_uint8_rgb(data.X_test[row])
        pictures.append(picture)
    return pictures


def _to_uint8_rgb(image):
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    top = float(image.max()) if image.size else 1.0
    if image.dtype != np.uint8 or top < 64:  # e.g. the digits' grey values 0..16
        image = np.clip(image.astype(np.float32) * (255.0 / max(top, 1e-12)), 0, 255).astype(np.uint8)
    return image
