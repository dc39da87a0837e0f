import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE_DIR = os.path.join(REPO_ROOT, "..", "shared", "reference")
SHARED_DATA_DIR = os.path.join(REPO_ROOT, "..", "shared", "data")

if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def _wordnet_data():
    import wordnet

    return os.path.join(wordnet.DEFAULT_WORDNET_DIR, "data.noun")


WORDNET_DATA = _wordnet_data()
needs_wordnet = pytest.mark.skipif(not os.path.exists(WORDNET_DATA), reason="WordNet 3.0 not installed")


@pytest.fixture(scope="module")
def wn():
    """The WordNet 3.0 noun database (Debian's wordnet-base), or skip."""
    if not os.path.exists(WORDNET_DATA):
        pytest.skip("WordNet 3.0 not installed")
    import wordnet

    return wordnet.load_wordnet()


def reference_file(*parts):
    """Path of a file in ../shared/reference/, or skip the test when the folder is absent."""
    path = os.path.join(REFERENCE_DIR, *parts)
    if not os.path.exists(path):
        pytest.skip("reference data not available: {}".format(path))
    return path


def run_script(script, *args, env=None, timeout=600):
    """Run one of the project's scripts in a subprocess; returns the CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    full_env.update(env or {})
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, script), *map(str, args)],
                          cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result, *fragments):
    """The script failed with exactly one `error: ...` line on stderr, naming `fragments`, and no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def pytest_configure(config):
    # The end-to-end runs of the one-command comparisons (several models each); `make test` runs them too.
    config.addinivalue_line("markers", "slow: an end-to-end run of a shell script that trains several models")
