"""The original release's baseline trainers (learn_classifier.py, learn_devise.py,
learn_center_loss.py, learn_labelembedding.py) on the digits with the original's flags and a tiny
Plain net: what they write, the training loss of each model recomputed by hand from its outputs and
weights, and the evaluation scripts scoring the models. (Their option tables are checked in
tests/test_original_options.py, their losses in tests/test_baseline_losses.py.)"""

import math
import subprocess
import sys

import keras
import numpy as np
import pytest

import evaluate_classification_accuracy as ECA
import learn_center_loss
import learn_classifier
import learn_devise
import learn_labelembedding
import utils
from conftest import REPO_ROOT
from datasets import get_data_generator
from models.methods import METHODS, MethodContext

TINY_NET = '{"filters": [8, "ap", 16, "gap", "fc16"]}'
TINY = ["--dataset", "digits", "--architecture", "simple", "--architecture_kwargs", TINY_NET, "--read_workers", "1",
        "--no_progress", "--seed", "0"]
SGD = ["--lr_schedule", "SGD", "--sgd_lr", "0.05", "--batch_size", "16"]


def printed_accuracy(out):
    return float([line for line in out.splitlines() if line.startswith("Accuracy: ")][-1].split(": ")[1])


@pytest.fixture(scope="module")
def digits():
    data = get_data_generator("digits", None)
    images = data.compose_batch(np.arange(data.num_test), train=False)
    return data, images, np.asarray(data.labels_test)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """learn_classifier.py with label smoothing and --snapshot/--snapshot_best (3 epochs)."""
    d = tmp_path_factory.mktemp("classifier")
    code = learn_classifier.main([*TINY, *SGD, "--epochs", "3", "--label_smoothing", "0.1",
                                  "--snapshot", str(d / "snap.keras"), "--snapshot_best",
                                  "--model_dump", str(d / "m.keras"), "--feature_dump", str(d / "f.pickle")])
    assert code == 0
    return d


def test_registry_entries():
    assert (METHODS["devise"].head, METHODS["devise"].monitor) == (None, "max_sim_acc")
    for name in ("center_loss", "label_embedding"):
        method = METHODS[name]
        assert method.outputs is not None and method.monitor == "prob_acc" and not method.classifier_head
    assert METHODS["label_embedding"].hyperparameters() == {"embed_dim": 100, "tau": 2.0, "alpha": 0.9, "beta": 0.5}
    assert METHODS["center_loss"].hyperparameters() == {"embed_dim": 100, "center_loss_weight": 0.1}


def test_help_imports_no_framework():
    code = ("import sys\nimport learn_classifier, learn_devise, learn_center_loss, learn_labelembedding as s\n"
            "for m in (learn_classifier, learn_devise, learn_center_loss, s):\n    m.build_parser().format_help()\n"
            "print(sorted(k for k in ('keras', 'tensorflow', 'jax') if k in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_classifier_dumps_the_penultimate_features(classifier, digits, capsys):
    data, images, labels = digits
    model = keras.models.load_model(classifier / "m.keras")
    assert model.layers[-1].name == "prob" and model.output_shape == (None, 10)
    assert (classifier / "snap.keras").is_file()
    # the original dumped model.layers[-3] when [-2] is a batch normalization: here fc5, before bn5
    fc = keras.Model(model.inputs, model.get_layer("fc5").output).predict(images, verbose=0)
    _, features = utils.load_features(str(classifier / "f.pickle"))
    np.testing.assert_allclose(features, fc, atol=1e-5)
    scores = ECA.class_scores(data, str(classifier / "m.keras"), layer="prob", prob_features=True)
    assert np.mean(scores.argmax(1) == labels) > 0.2  # well above chance (0.1) after 3 tiny epochs


def test_classifier_label_smoothing_and_class_list(tmp_path, digits):
    (tmp_path / "classes.txt").write_text("7 seven\n2\n\n5 five\n7\n")  # first words, duplicates dropped
    assert learn_classifier.main([*TINY, *SGD, "--epochs", "1", "--label_smoothing", "0.3", "--class_list",
                                  str(tmp_path / "classes.txt"), "--model_dump", str(tmp_path / "m.keras")]) == 0
    model = keras.models.load_model(tmp_path / "m.keras")
    assert model.output_shape == (None, 3)
    data = get_data_generator("digits", None, classes=str(tmp_path / "classes.txt"))
    images, labels = data.compose_batch(np.arange(40), train=False), np.asarray(data.labels_test[:40])
    probabilities = model.predict(images, verbose=0)
    # smoothed targets: 1 - 0.3 for the class, 0.3 / 2 for the others; cross-entropy plus weight decay
    targets = np.full((40, 3), 0.15, dtype=np.float32)
    targets[np.arange(40), labels] = 0.7
    loss = model.evaluate(images, targets, batch_size=40, verbose=0, return_dict=True)["loss"]
    expected = -np.mean(np.sum(targets * np.log(probabilities), axis=1))
    expected += sum(float(keras.ops.convert_to_numpy(l)) for l in model.losses)
    assert loss == pytest.approx(expected, rel=1e-4)


def test_center_loss_trainer(tmp_path, digits, capsys):
    data, images, labels = digits
    assert learn_center_loss.main([*TINY, *SGD, "--epochs", "2", "--batch_size", "32", "--embed_dim", "6",
                                   "--center_loss_weight", "0.5",
                                   "--model_dump", str(tmp_path / "m.keras"),
                                   "--feature_dump", str(tmp_path / "f.pickle")]) == 0
    accuracy = printed_accuracy(capsys.readouterr().out)
    model = keras.models.load_model(tmp_path / "m.keras")
    assert [o.shape[-1] for o in model.outputs] == [6, 10, 10]
    features, probabilities, _ = model.predict(images, verbose=0)
    _, dumped = utils.load_features(str(tmp_path / "f.pickle"))
    np.testing.assert_allclose(dumped, features, atol=1e-5)
    # the training loss: cross-entropy + 0.5 * mean |x - c_y|^2 / 2 (+ weight decay), from outputs and centers
    centers = keras.ops.convert_to_numpy(model.get_layer("center_loss").centers)
    onehot = np.eye(10, dtype=np.float32)[labels]
    expected = -np.mean(np.log(probabilities[np.arange(len(labels)), labels]))
    expected += 0.5 * np.mean(np.sum((features - centers[labels]) ** 2, axis=1) / 2)
    expected += sum(float(keras.ops.convert_to_numpy(l)) for l in model.losses)
    loss = model.evaluate(images, (labels, onehot, onehot), batch_size=len(labels), verbose=0, return_dict=True)
    assert loss["loss"] == pytest.approx(expected, rel=1e-4)
    assert not np.allclose(centers, 0, atol=0.05)  # learned away from their uniform [-0.05, 0.05] start
    scores = ECA.class_scores(data, str(tmp_path / "m.keras"), layer="prob", prob_features=True)
    assert np.mean(scores.argmax(1) == labels) == pytest.approx(accuracy, abs=1e-4)


def test_center_loss_with_fixed_centroids(tmp_path, digits):
    rng = np.random.default_rng(0)
    centroids = rng.normal(size=(4, 5)).astype(np.float32)
    utils.save_class_embedding(str(tmp_path / "c.pickle"), centroids, [3, 1, 4, 8])
    assert learn_center_loss.main([*TINY, *SGD, "--epochs", "1", "--centroids", str(tmp_path / "c.pickle"),
                                   "--model_dump", str(tmp_path / "m.keras")]) == 0
    model = keras.models.load_model(tmp_path / "m.keras")
    assert [o.shape[-1] for o in model.outputs] == [5, 4, 4]  # the centroids' dimension and classes
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.get_layer("center_loss").centers), centroids)


def test_label_embedding_trainer(tmp_path, digits, capsys):
    data, images, labels = digits
    assert learn_labelembedding.main([*TINY, *SGD, "--epochs", "1", "--batch_size", "32", "--embed_dim", "6",
                                      "--tau", "3", "--alpha", "0.8", "--beta", "0.4",
                                      "--model_dump", str(tmp_path / "m.keras"),
                                      "--feature_dump", str(tmp_path / "f.pickle")]) == 0
    accuracy = printed_accuracy(capsys.readouterr().out)
    model = keras.models.load_model(tmp_path / "m.keras")
    features, probabilities, _ = model.predict(images, verbose=0)
    _, dumped = utils.load_features(str(tmp_path / "f.pickle"))
    np.testing.assert_allclose(dumped, features, atol=1e-5)
    # the training loss from the two classifiers' logits and the label embedding, as the original's formula
    from test_baseline_losses import reference_label_embedding_loss

    batch = np.arange(64)
    logits = keras.Model(model.inputs, [model.get_layer("prob_logits").output, model.get_layer("out2").output])
    out1, out2 = logits.predict(images[batch], verbose=0)
    E = keras.ops.convert_to_numpy(model.get_layer("labelembed_loss").label_embeddings)
    expected = np.mean(reference_label_embedding_loss(out1, out2, E, labels[batch], tau=3.0, alpha=0.8, beta=0.4))
    expected += sum(float(keras.ops.convert_to_numpy(l)) for l in model.losses)
    onehot = np.eye(10, dtype=np.float32)[labels[batch]]
    loss = model.evaluate(images[batch], (labels[batch], onehot, onehot), batch_size=64, verbose=0,
                          return_dict=True)["loss"]
    assert loss == pytest.approx(expected, rel=1e-4)
    assert not np.allclose(E, np.eye(10))  # the label embedding learned
    np.testing.assert_allclose(probabilities, keras.ops.convert_to_numpy(keras.ops.softmax(out1_all(model, images))),
                               atol=1e-5)
    scores = ECA.class_scores(data, str(tmp_path / "m.keras"), layer="prob", prob_features=True)
    assert np.mean(scores.argmax(1) == labels) == pytest.approx(accuracy, abs=1e-4)


def out1_all(model, images):
    return keras.Model(model.inputs, model.get_layer("prob_logits").output).predict(images, verbose=0)


def test_devise_from_the_classifier(tmp_path, classifier, digits, capsys):
    """--init_weights: the classifier's top replaced by a linear map onto the unit-length class
    embeddings; with --ft_epochs 0 only that layer learns (the rest keeps the classifier's weights)."""
    data, images, labels = digits
    rng = np.random.default_rng(1)
    embedding = rng.normal(size=(10, 4)) * rng.uniform(0.5, 3, size=(10, 1))  # rows of several lengths
    utils.save_class_embedding(str(tmp_path / "e.pickle"), embedding, list(range(10)))
    assert learn_devise.main(["--dataset", "digits", "--embedding", str(tmp_path / "e.pickle"), "--init_weights",
                              str(classifier / "m.keras"), "--init_epochs", "2", "--ft_epochs", "0", "--init_lr",
                              "0.05", "--margin", "0.2", "--batch_size", "32", "--read_workers", "1", "--no_progress",
                              "--model_dump", str(tmp_path / "m.keras"),
                              "--feature_dump", str(tmp_path / "f.pickle")]) == 0
    accuracy = printed_accuracy(capsys.readouterr().out)
    model = keras.models.load_model(tmp_path / "m.keras", compile=False)
    source = keras.models.load_model(classifier / "m.keras")
    assert model.layers[-1].name == "embedding" and model.output_shape == (None, 4)
    assert [l.name for l in model.layers[:-1]] == [l.name for l in source.layers[:-2]]
    for layer in model.layers[:-1]:
        for ours, theirs in zip(layer.get_weights(), source.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    x = model.predict(images, verbose=0)
    _, dumped = utils.load_features(str(tmp_path / "f.pickle"))
    np.testing.assert_allclose(dumped, x, atol=1e-5)
    # nearest unit-length class embedding by dot product: the printed accuracy and evaluate_classification_accuracy
    unit = embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
    assert np.mean((x @ unit.T).argmax(1) == labels) == pytest.approx(accuracy, abs=1e-4)
    utils.save_class_embedding(str(tmp_path / "unit.pickle"), unit, list(range(10)))  # distance ranks as dot
    scores = ECA.class_scores(data, str(tmp_path / "m.keras"), layer="embedding",
                              centroids=str(tmp_path / "unit.pickle"))
    assert np.mean(scores.argmax(1) == labels) == pytest.approx(accuracy, abs=1e-4)


def test_devise_from_scratch_and_its_loss(tmp_path, digits):
    data, images, labels = digits
    embedding = np.eye(10) + 0.1
    utils.save_class_embedding(str(tmp_path / "e.pickle"), embedding, list(range(10)))
    assert learn_devise.main([*TINY, "--embedding", str(tmp_path / "e.pickle"), "--init_epochs", "5", "--ft_epochs",
                              "1", "--max_decay", "0.5", "--batch_size", "64", "--model_dump",
                              str(tmp_path / "m.keras")]) == 0
    model = keras.models.load_model(tmp_path / "m.keras")
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.Adagrad)
    steps = math.ceil(data.num_train / 64)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == steps  # no init phase without --init_weights
    # the learning rate decays as 0.001 / (1 + decay * step), decay = (1 / 0.5 - 1) / (steps per epoch * 1)
    decay = 1.0 / (data.num_train // 64)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.001 / (1 + decay * steps),
                                                                                         rel=1e-5)
    unit = embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
    x = model.predict(images[:50], verbose=0)
    sims = x @ unit.T
    true = sims[np.arange(50), labels[:50]]
    expected = np.mean(np.sum(np.maximum(0, 0.1 - true[:, None] + sims), axis=1) - 0.1)
    # a model file stores no class embeddings: compile with the method's loss again
    model = keras.models.load_model(tmp_path / "m.keras", compile=False)
    model.compile(loss=METHODS["devise"].loss(MethodContext(embedding=embedding), margin=0.1))
    loss = model.evaluate(images[:50], unit[labels[:50]], batch_size=50, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(expected + sum(float(keras.ops.convert_to_numpy(l)) for l in model.losses),
                                 rel=1e-4)


@pytest.mark.parametrize("script,args,fragment", [
    (learn_devise, ["--embedding", "onehot"], "not onehot"),
    (learn_devise, ["--embedding", "EMB", "--init_lr", "0"], "--init_lr must be positive, got 0.0"),
    (learn_devise, ["--embedding", "EMB", "--init_weights", "/nonexistent.keras"],
     "--init_weights /nonexistent.keras: no such file"),
    (learn_labelembedding, ["--tau", "0"], "--tau must be a positive number, got 0.0"),
    (learn_center_loss, ["--center_loss_weight", "-1"], "--center_loss_weight must be a non-negative number"),
    (learn_center_loss, ["--embed_dim", "0"], "--embed_dim must be at least 1, got 0"),
])
def test_bad_values_give_one_line_errors(tmp_path, capsys, script, args, fragment):
    utils.save_class_embedding(str(tmp_path / "e.pickle"), np.eye(10), list(range(10)))
    args = [str(tmp_path / "e.pickle") if a == "EMB" else a for a in args]
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--dataset", "digits", "--no_progress", *args])
    assert exit_info.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], errors


def test_the_methods_train_through_learn_image_embeddings(tmp_path):
    """Registry entries only: learn_image_embeddings.py --loss center_loss with a class-embedding file
    (fixed centers) builds, trains and dumps like learn_center_loss.py --centroids."""
    import learn_image_embeddings

    centroids = np.random.default_rng(2).normal(size=(10, 3)).astype(np.float32)
    utils.save_class_embedding(str(tmp_path / "c.pickle"), centroids, list(range(10)))
    assert learn_image_embeddings.main([*TINY, *SGD, "--batch_size", "64", "--epochs", "1", "--loss", "center_loss",
                                        "--embedding", str(tmp_path / "c.pickle"), "--center_loss_weight", "0.2",
                                        "--model_dump", str(tmp_path / "m.keras"),
                                        "--feature_dump", str(tmp_path / "f.pickle")]) == 0
    model = keras.models.load_model(tmp_path / "m.keras")
    assert [o.shape[-1] for o in model.outputs] == [3, 10, 10]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.get_layer("center_loss").centers), centroids)
    assert utils.load_features(str(tmp_path / "f.pickle"))[1].shape == (300, 3)
