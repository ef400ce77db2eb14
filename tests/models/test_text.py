"""Text encoders: the bundled MiniLM offline, masks, the prompt cache, local folders by config."""

import pytest
import torch

from tessera.errors import ConfigError, NotFoundError
from tessera.models.text import TextEncoder, TextEncoderParams, _Bert, _load_transformers, bundled_minilm_path


def test_bundled_minilm_loads_offline_and_gives_token_states(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = TextEncoder()
    states, mask = encoder(["a red ball falls", "two blue squares slide to the left on a dark background"])
    assert encoder.dim == 384 and states.shape[0] == 2 and states.shape[2] == 384
    assert mask[0].sum() < mask[1].sum() and mask[1].all()
    assert (states[0, ~mask[0]] == 0).all()
    again, _ = encoder(["a red ball falls"])  # from the cache, equal to the batched encoding
    n = int(mask[0].sum())
    torch.testing.assert_close(again[0, :n], states[0, :n])
    other, _ = encoder(["a green triangle rests on the floor"])
    assert not torch.allclose(other[0, :3], states[0, :3])


def test_bundled_minilm_matches_transformers_bert():
    """The bundled MiniLM runs on Tessera's own BERT forward (no transformers import); same ids, same states."""
    encoder = TextEncoder()
    assert isinstance(encoder.model, _Bert)
    prompts = ["a red ball falls and bounces on the floor", "Two BLUE squares, sliding left!", "word " * 80]
    tokens, run, dim = _load_transformers(str(bundled_minilm_path()))
    ids = tokens.ids(prompts, encoder.params.max_tokens)
    assert encoder.token_ids(prompts) == ids and len(ids[2]) == encoder.params.max_tokens
    assert encoder.vocabulary() == frozenset(tokens.vocab) and dim == encoder.dim
    states, mask = encoder(prompts)
    width = max(len(r) for r in ids)
    padded = torch.tensor([r + [0] * (width - len(r)) for r in ids])
    with torch.no_grad():
        reference = run(padded, padded != 0)
    torch.testing.assert_close(states[mask], reference[mask], atol=1e-5, rtol=1e-5)


def test_toy_encoder_and_cache_limit():
    encoder = TextEncoder(TextEncoderParams(source="toy:8", cache_size=2))
    a, mask = encoder(["a b c", "d"])
    assert a.shape == (2, 4, 8) and mask.tolist() == [[True] * 4, [True, True, False, False]]
    encoder(["e"])
    assert len(encoder._cache) == 2 and "a b c" not in encoder._cache
    torch.testing.assert_close(encoder(["a b c"])[0], a[:1])


def test_unread_names_the_words_past_the_token_limit():
    encoder = TextEncoder()  # MiniLM: word pieces, [CLS] and [SEP] count
    prompt = "a red ball falls and bounces on the floor, " * 8
    unread = encoder.unread(prompt)
    read = prompt.split()[: len(prompt.split()) - len(unread.split())]
    count = lambda words: len(encoder.tokens.ids([" ".join(words)], 1000)[0])  # noqa: E731
    assert prompt.rstrip().endswith(unread) and count(read) <= encoder.params.max_tokens < count(
        read + unread.split()[:1]
    )
    assert encoder.unread("a red ball falls") == ""
    assert TextEncoder(TextEncoderParams(source="toy:8", max_tokens=4)).unread("a b c d e f") == "d e f"


def test_bad_sources_say_what_to_give(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        TextEncoder(TextEncoderParams(source=str(tmp_path / "nope")))
    with pytest.raises(ConfigError, match="toy:DIM"):
        TextEncoderParams(source="toy:x")
    with pytest.raises(ConfigError, match="not a loadable"):
        TextEncoder(TextEncoderParams(source=str(tmp_path)))
