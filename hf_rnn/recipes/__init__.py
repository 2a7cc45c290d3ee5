"""Applications built from hf_rnn's library pieces (`hf_rnn.data`, `hf_rnn.training`, the models).

Each recipe is a complete job with its own presets and model card, run from the command line as
`hf-rnn <name>`; the library itself knows nothing of any one of them.
"""
