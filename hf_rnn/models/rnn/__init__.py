"""The shipped model folder: config and models that travel to the Hub with every checkpoint."""

from .configuration_rnn import RNNConfig, RNNEnsembleConfig
from .modeling_rnn import (
    AUTO_MAP,
    RNNCache,
    RNNCausalLMOutput,
    RNNForCausalLM,
    RNNForecastOutput,
    RNNForForecasting,
    RNNForSequenceClassification,
    RNNForTokenClassification,
    RNNModel,
    RNNModelOutput,
    RNNPreTrainedModel,
)
from .modeling_rnn_ensemble import ENSEMBLE_AUTO_MAP, NgramLogisticRegression, RNNEnsembleForSequenceClassification
