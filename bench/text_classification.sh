#!/usr/bin/env bash
# The general job's benchmarks, in the order they ran; each writes bench/results/<name>.{json,md}.
# Usage: bash bench/text_classification.sh trec|imdb|trec_lm|trec_scratch|baselines|newsgroups|fractions|fractions_semi|fractions_curriculum|fractions_consistency
set -euo pipefail
cd "$(dirname "$0")/.."
B="python bench/bench_text_classification.py"
TREC="--dataset ../shared/data/trec --label_names ABBR,ENTY,DESC,HUM,LOC,NUM"
# The labelled-fraction runs with the unlabelled questions in the classifier: the 5-minute plans' sizes
FRACTION_SIZES="--lm_steps 260 --classifier_epochs 10 --backward true --adversarial_weight 1"
NEWS="--dataset ../shared/data/20newsgroups --text_column text_clean --label_column label_name --empty_texts drop"
case "${1:-}" in
  trec) $B job --name trec_15m --label "hf_rnn, 15 min budget, LM on TREC's own text" -- $TREC --time_budget 15m --report_test true ;;
  imdb)
    hf-rnn imdb --preset quick --dataset ../shared/data/imdb --output_dir runs/imdb-quick --report_test true
    $B job --name imdb_quick_general --label "hf-rnn train, IMDB with hf-rnn imdb's quick settings" -- \
      --dataset ../shared/data/imdb --preset quick --max_train_samples 12000 --max_eval_samples 1000 \
      --max_test_samples 5000 --auxiliary_column rating --ngram_logistic_rating_weight 0.5 --report_test true
    $B same runs/imdb-quick runs/bench-imdb_quick_general --name imdb_through_general_job ;;
  trec_lm) $B job --name trec_15m_imdb_lm --label "hf_rnn, 15 min budget, LM from IMDB's quick LM" -- $TREC \
      --lm_init_from runs/imdb-quick/lm --time_budget 15m --report_test true ;;
  trec_scratch) $B job --name trec_15m_scratch --label "hf_rnn, 15 min budget, no LM (classifiers from scratch)" -- \
      $TREC --pretrain_lm false --time_budget 15m --report_test true ;;
  baselines)
    $B baselines $TREC --name trec_baselines
    $B baselines $NEWS --name 20newsgroups_baselines ;;
  newsgroups) $B job --name newsgroups_30m --label "hf_rnn, 30 min budget" -- $NEWS --time_budget 30m --report_test true ;;
  fractions)
    for f in 0.01 0.1; do
      $B baselines $TREC --labelled_fraction $f --name trec_baselines_labels_$f
      $B job --name trec_5m_labels_$f --label "hf_rnn, 5 min, labels of $f of train" -- $TREC --labelled_fraction $f \
        --time_budget 5m --report_test true
    done
    $B curve --fractions 0.01 0.1 1.0 --jobs trec_5m_labels_0.01 trec_5m_labels_0.1 trec_15m \
      --baselines trec_baselines_labels_0.01 trec_baselines_labels_0.1 trec_baselines --scratch trec_15m_scratch \
      --name trec_label_curve ;;
  fractions_semi)  # the 5-minute plans' sizes (budget.json of trec_5m_labels_*), without and with the unlabelled
    # questions in the classifier too: self-training at its defaults (consistency training, which lost on IMDB's
    # validation reviews at 100 labels, is left out)
    for f in 0.01 0.1; do
      S="$TREC --labelled_fraction $f $FRACTION_SIZES"
      $B job --name trec_labels_${f}_plain --label "hf_rnn, labels of $f, LM for the rest" -- $S --report_test true
      $B job --name trec_labels_${f}_self_training --label "the same + self-training (3 rounds)" -- \
        $S --self_training_rounds 3 --report_test true
    done ;;
  fractions_curriculum)  # the same sizes with curriculum self-training (5 rounds of 20% of the unlabelled
    # questions, the schedule fixed for IMDB's 100-label runs from Cascante-Bonilla et al. 2021)
    for f in 0.01 0.1; do
      S="$TREC --labelled_fraction $f $FRACTION_SIZES"
      $B job --name trec_labels_${f}_curriculum --label "the same + curriculum self-training (5 rounds of 20%)" -- \
        $S --self_training_rounds 5 --pseudo_label_share 0.2 --report_test true
    done ;;
  fractions_consistency)  # the same sizes with consistency training, UDA's TF-IDF word replacement at the rate
    # of UDA's scripts (0.2), fixed before the run
    for f in 0.01 0.1; do
      S="$TREC --labelled_fraction $f $FRACTION_SIZES"
      $B job --name trec_labels_${f}_consistency_tfidf --label "the same + consistency (TF-IDF replacement)" -- \
        $S --consistency_weight 1 --consistency_perturbation tfidf_replacement --consistency_word_dropout 0.2 \
        --report_test true
    done ;;
  *) echo "usage: $0 trec|imdb|trec_lm|trec_scratch|baselines|newsgroups|fractions|fractions_semi|fractions_curriculum|fractions_consistency" >&2; exit 2 ;;
esac
