from .rnn import *  # noqa: F401,F403
