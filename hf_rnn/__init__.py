"""hf_rnn: recurrent networks (tanh RNN, LSTM, GRU) as first-class citizens of the Hugging Face ecosystem.

Importing the package registers the config and every head with transformers' Auto classes, so
`AutoModelForCausalLM.from_pretrained(folder)` works without `trust_remote_code` when hf_rnn is installed.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoModelForTimeSeriesPrediction,
    AutoModelForTokenClassification,
)

from .models.rnn import (
    RNNCache,
    RNNCausalLMOutput,
    RNNConfig,
    RNNEnsembleConfig,
    RNNEnsembleForSequenceClassification,
    RNNForCausalLM,
    RNNForecastOutput,
    RNNForForecasting,
    RNNForSequenceClassification,
    RNNForTokenClassification,
    RNNModel,
    RNNModelOutput,
    RNNPreTrainedModel,
)

__version__ = "0.1.0"

AutoConfig.register(RNNConfig.model_type, RNNConfig, exist_ok=True)
for _auto_class, _model_class in (
    (AutoModel, RNNModel),
    (AutoModelForCausalLM, RNNForCausalLM),
    (AutoModelForSequenceClassification, RNNForSequenceClassification),
    (AutoModelForTokenClassification, RNNForTokenClassification),
    (AutoModelForTimeSeriesPrediction, RNNForForecasting),
):
    _auto_class.register(RNNConfig, _model_class, exist_ok=True)
# One folder serves a forward + backward classifier pair (ULMFiT) as one model.
AutoConfig.register(RNNEnsembleConfig.model_type, RNNEnsembleConfig, exist_ok=True)
AutoModelForSequenceClassification.register(RNNEnsembleConfig, RNNEnsembleForSequenceClassification, exist_ok=True)

__all__ = [
    "RNNConfig",
    "RNNModel",
    "RNNPreTrainedModel",
    "RNNForCausalLM",
    "RNNForSequenceClassification",
    "RNNEnsembleConfig",
    "RNNEnsembleForSequenceClassification",
    "RNNForTokenClassification",
    "RNNForForecasting",
    "RNNModelOutput",
    "RNNCausalLMOutput",
    "RNNForecastOutput",
    "RNNCache",
]
