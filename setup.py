"""What pyproject.toml cannot say: the packages, so that the model-card templates travel with the package.

The templates' home is `model_cards/` at the top of the repository; the wheel (and an editable install) maps that
folder to the package `hf_rnn.model_cards`, which the code reads with `importlib.resources`.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["hf_rnn*"]), "hf_rnn.model_cards"],
    package_dir={"hf_rnn.model_cards": "model_cards"},
)
