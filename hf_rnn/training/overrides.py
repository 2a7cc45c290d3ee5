"""`--config_overrides "hidden_size=512,num_hidden_layers=2"`: changes to RNNConfig's defaults, as transformers'
run_clm.py takes them. RNNConfig is the one home of model defaults; scripts and presets only say what differs.

The string is read into a dict once, where the command line meets the code (`ModelArguments`); from there on the
overrides travel as dicts (a preset's, the user's and the job's own merged as dicts)."""

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


def checked_config_overrides(overrides: dict) -> dict:
    """A dict of RNNConfig overrides (a preset's, an arguments file's, or one a job made) held to what
    `parse_config_overrides` gives for a string: RNNConfig fields whose defaults are ints, floats, booleans or
    strings, each value of its default's type (an int for a float field becomes that float), in a config RNNConfig
    accepts.

    Raises:
        ValueError: a name that is no such field, a value of the wrong type, or a value RNNConfig rejects; the
            message names it.
    """
    defaults = config_defaults()
    settable = {name for name, default in defaults.items() if isinstance(default, (int, float, bool, str))}
    unknown = sorted(set(overrides) - settable)
    if unknown:
        raise ValueError(f"Config overrides {overrides!r}: {unknown} are not RNNConfig fields with a number, boolean "
                         f"or string default; the fields are {sorted(defaults)}.")
    typed = {name: float(value) if typed_as_float(value, defaults[name]) else value
             for name, value in overrides.items()}
    mistyped = sorted(name for name, value in typed.items() if type(value) is not type(defaults[name]))
    if mistyped:
        expected = ", ".join(f"{name} takes a {type(defaults[name]).__name__}" for name in mistyped)
        raise ValueError(f"Config overrides {overrides!r}: {expected}.")
    try:
        RNNConfig(**typed)  # the config's own checks, now rather than after the data is prepared
    except (TypeError, ValueError) as err:
        raise ValueError(f"Config overrides {overrides!r}: {err}") from err
    return typed


def typed_as_float(value, default) -> bool:
    """Whether `value` is an int (not a boolean) given for a float field, which the string form would read as float."""
    return type(default) is float and type(value) is int


def config_overrides_dict(overrides: dict | str | None) -> dict:
    """RNNConfig overrides as a dict, from the command line's string (`parse_config_overrides`) or from a dict
    (`checked_config_overrides`)."""
    if overrides is None or isinstance(overrides, str):
        return parse_config_overrides(overrides)
    return checked_config_overrides(overrides)
