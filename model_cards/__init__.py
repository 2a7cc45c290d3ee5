"""Model-card templates (Jinja, rendered with `huggingface_hub.ModelCard.from_template`); installed as the package
`hf_rnn.model_cards` so that `importlib.resources` finds them in a wheel as in a checkout."""
