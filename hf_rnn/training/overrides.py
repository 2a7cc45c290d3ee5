"""`--config_overrides "hidden_size=512,num_hidden_layers=2"`: changes to RNNConfig's defaults, as transformers'
run_clm.py takes them. RNNConfig is the one home of model defaults; scripts and presets only say what differs."""

import inspect

from ..models.rnn.configuration_rnn import RNNConfig


def config_defaults() -> dict:
    """Every RNNConfig field with its default, read from the config's own signature."""
    parameters = inspect.signature(RNNConfig.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def parse_config_overrides(text: str | None) -> dict:
    """`"hidden_size=512,lm_loss=sampled"` -> `{"hidden_size": 512, "lm_loss": "sampled"}`, each value typed as
    RNNConfig's default for that field (booleans: true/false) and the result checked by RNNConfig's validation.

    Raises:
        ValueError: a name that is no RNNConfig field, a pair without `=`, a value of the wrong type, or a value
            RNNConfig rejects; the message names it.
    """
    if not text or not text.strip():
        return {}
    pairs = [pair.split("=", 1) for pair in text.split(",") if pair.strip()]
    defaults = config_defaults()
    unknown = [pair[0].strip() for pair in pairs if len(pair) != 2 or pair[0].strip() not in defaults]
    if unknown:
        raise ValueError(f"--config_overrides {text!r}: {unknown} are not `name=value` pairs of RNNConfig fields; "
                         f"the fields are {sorted(defaults)}.")
    config = RNNConfig()
    try:
        config.update_from_string(",".join(f"{name.strip()}={value.strip()}" for name, value in pairs))
        overrides = {name.strip(): getattr(config, name.strip()) for name, _ in pairs}
        RNNConfig(**overrides)  # the config's own checks, now rather than after the data is prepared
    except (TypeError, ValueError) as err:
        raise ValueError(f"--config_overrides {text!r}: {err}") from err
    return overrides


def format_config_overrides(overrides: dict) -> str | None:
    """The inverse of `parse_config_overrides`: a dict of RNNConfig fields as one `name=value,...` string."""
    text = ",".join(f"{name}={str(value).lower() if isinstance(value, bool) else value}"
                    for name, value in overrides.items())
    return text or None
