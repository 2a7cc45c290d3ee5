"""Our trained tokenizers inside transformers' pipeline(): the same preprocessing as training, readable output."""

import re

import datasets
import pytest
import torch
from transformers import AutoTokenizer, pipeline

from hf_rnn import RNNConfig, RNNForCausalLM, RNNForSequenceClassification
from hf_rnn.data import classification_collator, classification_features
from hf_rnn.tokenization import train_subword_tokenizer, train_word_level_tokenizer

RAW = [
    "The movie was GREAT.<br /><br />I didn't expect it &amp; loved it!",
    "Terrible. The acting was bad, the plot worse...",
    "It's OK (not great).",
]


def _config(tok, **kw):
    return RNNConfig(vocab_size=len(tok), embedding_size=8, hidden_size=12, num_hidden_layers=1, pad_token_id=0,
                     bos_token_id=2, eos_token_id=3, classifier_hidden_size=6, **kw)


def test_pipeline_applies_training_preprocessing(tmp_path):
    torch.manual_seed(0)
    tok = train_word_level_tokenizer(RAW * 3, min_frequency=1)
    tok.save_pretrained(tmp_path)
    model = RNNForSequenceClassification(_config(tok, num_labels=2, id2label={0: "neg", 1: "pos"})).eval()
    # training path: classification_features + collator on the raw reviews
    feats = classification_features(datasets.Dataset.from_dict({"text": RAW, "label": [1, 0, 1]}), tok)
    batch = classification_collator(tok)(feats.to_list())
    with torch.no_grad():
        trained_probs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.softmax(-1)
    # inference path: pipeline() with the tokenizer loaded from disk, given the same raw text
    classify = pipeline("text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(tmp_path), top_k=None)
    for probs, result in zip(trained_probs, classify(RAW, batch_size=len(RAW))):  # padded left, as a batch
        scores = {r["label"]: r["score"] for r in result}
        torch.testing.assert_close(torch.tensor([scores["neg"], scores["pos"]]), probs, rtol=1e-5, atol=1e-6)


def test_generated_text_reads_naturally():
    torch.manual_seed(0)
    tok = train_word_level_tokenizer(RAW * 3, min_frequency=1, case_markers=True)
    generate = pipeline("text-generation", model=RNNForCausalLM(_config(tok)).eval(), tokenizer=tok)
    text = generate("The acting was", max_new_tokens=12, do_sample=False)[0]["generated_text"]
    assert text.startswith("The acting was")
    new = text[len("The acting was") :]
    assert new and "xxmaj" not in new and "xxup" not in new and "<s>" not in new
    assert re.search(r"[a-z] [a-z]", new), new  # words are separated by spaces (WordLevel alone glues them)
    assert not re.search(r" [.,!?]|  | 's| n't", new), new  # punctuation and clitics attached


def test_batched_prompts_generate_what_each_prompt_generates_alone(tmp_path):
    torch.manual_seed(0)
    train_word_level_tokenizer(RAW * 3, min_frequency=1).save_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert tok.padding_side == "left"  # right padding would make every shorter prompt continue from <pad>
    model = RNNForCausalLM(_config(tok)).eval()
    prompts = ["The acting was bad, the plot", "Terrible."]
    batched = model.generate(**tok(prompts, return_tensors="pt", padding=True), max_new_tokens=4, do_sample=False)
    for prompt, row in zip(prompts, batched):
        alone = model.generate(**tok([prompt], return_tensors="pt"), max_new_tokens=4, do_sample=False)
        assert row[-4:].tolist() == alone[0, -4:].tolist()


def _tokenizer(kind):
    corpus = ["this movie is really great.", "this film is really bad.", "the plot was really fun."] * 20
    if kind == "word":
        return train_word_level_tokenizer(corpus, min_frequency=1)
    return train_subword_tokenizer(corpus, vocab_size={"bpe": 300, "unigram": 40}[kind], algorithm=kind)


def _always_says(tok, token):
    """A tiny language model whose every next token is `token` (all weights zero, its output bias set)."""
    model = RNNForCausalLM(_config(tok)).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        model.lm_head.bias[tok.convert_tokens_to_ids(token)] = 10.0
    return model


@pytest.mark.parametrize("kind,token,text", [("word", "really", "really"), ("bpe", "Ġreally", "really"),
                                             ("unigram", "▁th", "th")])  # a piece that starts a word
def test_generated_words_are_separated_from_the_prompt(kind, token, text):
    tok = _tokenizer(kind)
    generate = pipeline("text-generation", model=_always_says(tok, token), tokenizer=tok)
    generated = generate("this movie is", max_new_tokens=2, do_sample=False)[0]["generated_text"]
    assert generated == f"this movie is {text} {text}"  # not "this movie is{text} {text}"
    full_stop = pipeline("text-generation", model=_always_says(tok, "."), tokenizer=tok)
    assert full_stop("this movie is", max_new_tokens=1, do_sample=False)[0]["generated_text"] == "this movie is."
