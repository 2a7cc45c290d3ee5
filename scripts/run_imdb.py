#!/usr/bin/env python
"""The main job: tokenizer -> LM -> classifier and 1-10 rating model on IMDB (same as `hf-rnn imdb`).

    python scripts/run_imdb.py --preset quick --output_dir runs/imdb-quick
"""

from hf_rnn.recipes.imdb import main

if __name__ == "__main__":
    main()
