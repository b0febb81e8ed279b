"""The knowledge core: real articles parse, broken ones say how to fix them, search ranks right.

No model is loaded: embeddings here are small hand-made vectors, so the tests check how the
scores are combined, not how good MiniLM is (bench/knowledge.py measures that).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.knowledge import (
    ArticleError,
    BM25Index,
    KnowledgeIndex,
    Passage,
    content_hash,
    load_articles,
    passages,
    short_answer,
    tokenize,
)

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"
FRONT = "---\ntitle: Charge the doorbell\nurl: https://help.hearthlink.example/articles/doorbell\n---\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def passage(text: str, slug: str = "doc", heading: str = "Heading") -> Passage:
    return Passage(slug, f"Title {slug}", f"https://help.hearthlink.example/articles/{slug}", heading, text)


def test_real_help_center_parses_into_enough_passages() -> None:
    articles = load_articles(KNOWLEDGE)
    assert len(articles) == 47
    assert "README" not in {article.slug for article in articles}
    for article in articles:
        found = passages(article)
        assert len(found) >= 3, article.slug
        assert found[0].heading == "" and found[0].text == article.summary
        assert article.url == f"https://help.hearthlink.example/articles/{article.slug}"
        assert all(p.text and p.title in p.index_text and p.heading in p.index_text for p in found)


@pytest.mark.parametrize(
    ("text", "problem", "fix"),
    [
        ("Just a paragraph.\n", "no front matter", "Start the file with a '---' line"),
        ("---\ntitle: Only a title\n", "not closed", "Add a '---' line"),
        ("---\nurl: https://help.hearthlink.example/a\n---\nBody.\n", "missing title", "Add 'title:"),
        ("---\ntitle: T\n---\nBody.\n", "missing url", "https://help.hearthlink.example/articles/broken"),
        ("---\ntitle: T\nurl: ftp://help.example/a\n---\nBody.\n", "not an http(s) address", "https://"),
        ("---\ntitle: T\nurl: https://help.hearthlink.example/a\n---\n\n", "no body", "summary paragraph"),
        ("---\ntitle: T: with colon\nurl: https://h.example/a\n---\nB.\n", "not plain YAML", "in quotes"),
        ("---\n- a list\n---\nBody.\n", "not a list of 'key: value' lines", "title:"),
        (FRONT + "Summary.\n\n## Empty section\n\n## Next\nText.\n", "'Empty section' has no text", "Write"),
    ],
)
def test_broken_article_names_the_file_and_the_fix(tmp_path: Path, text: str, problem: str, fix: str) -> None:
    write(tmp_path, "broken.md", text)
    with pytest.raises(ArticleError) as error:
        load_articles(tmp_path)
    message = str(error.value)
    assert "broken.md" in message and problem in message and fix in message


def test_real_articles_list_how_customers_ask() -> None:
    for article in load_articles(KNOWLEDGE):
        assert len(article.questions) >= 5, article.slug
        assert len(set(article.questions)) == len(article.questions), article.slug
        assert all(question.strip() == question and question for question in article.questions)


@pytest.mark.parametrize("questions", ["questions: 3\n", "questions:\n  - ''\n", "questions:\n  - 7\n"])
def test_bad_questions_name_the_file_and_the_fix(tmp_path: Path, questions: str) -> None:
    front = FRONT[:-4] + questions + "---\n"
    write(tmp_path, "broken.md", front + "Summary.\n")
    with pytest.raises(ArticleError) as error:
        load_articles(tmp_path)
    message = str(error.value)
    assert "broken.md" in message and "questions" in message and "Write 'questions:'" in message


def test_questions_are_optional_and_kept_in_order(tmp_path: Path) -> None:
    write(tmp_path, "plain.md", FRONT + "Summary.\n")
    asked_front = FRONT[:-4] + "questions:\n  - how do i charge it\n  - ' battery dead '\n---\n"
    write(tmp_path, "asked.md", asked_front + "S.\n")
    asked, plain = load_articles(tmp_path)
    assert plain.questions == () and asked.questions == ("how do i charge it", "battery dead")


def test_readme_is_not_an_article(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "# How to write articles\nNo front matter here.\n")
    write(tmp_path, "doorbell.md", FRONT + "Summary.\n\n## Charge it\nUse USB-C.\n")
    [article] = load_articles(tmp_path)
    assert article.slug == "doorbell" and article.sections == (("Charge it", "Use USB-C."),)


def test_hostile_article_tag_is_rejected_and_html_stays_inert_text(tmp_path: Path) -> None:
    """yaml.safe_load only: a ``!!python`` tag is rejected (nothing runs); HTML is kept as literal text."""
    marker = tmp_path / "ran"
    hostile = (
        f'---\ntitle: !!python/object/apply:os.system ["touch {marker}"]\nurl: https://x.example/a\n---\nB.\n'
    )
    write(tmp_path, "hostile.md", hostile)
    with pytest.raises(ArticleError, match=r"hostile\.md: front matter is not plain YAML"):
        load_articles(tmp_path)
    assert not marker.exists()

    (tmp_path / "hostile.md").unlink()
    script = '<script>alert("x")</script> <img src=x onerror=alert(1)>'
    write(tmp_path, "doorbell.md", FRONT + f"Summary {script}.\n\n## Section\n{script}\n")
    found = passages(load_articles(tmp_path)[0])
    assert found[1].text == script  # kept verbatim as a plain string: never rendered or evaluated
    assert script in short_answer(found[0])


def test_short_answer_keeps_whole_sentences_and_strips_markdown() -> None:
    text = (
        "See [the warranty page](https://help.hearthlink.example/articles/warranty) for **details**. "
        "Use the `Devices` tab to check the battery level today. " + "Another long sentence here. " * 20
    )
    answer = short_answer(passage(text), max_chars=100)
    assert (
        answer == "See the warranty page for details. Use the Devices tab to check the battery level today."
    )
    assert len(short_answer(passage(text))) <= 320
    assert short_answer(passage(text)).endswith(".")


def test_short_answer_keeps_the_first_list_items_whole() -> None:
    text = "To add it:\n1. Plug it in.\n2. Wait for the blue light, about one minute.\n3. " + "Scan it. " * 30
    assert short_answer(passage(text), max_chars=90) == (
        "To add it:\n1. Plug it in.\n2. Wait for the blue light, about one minute."
    )


def test_short_answer_cuts_an_overlong_sentence_between_words() -> None:
    text = "word " * 100
    answer = short_answer(passage(text.strip() + "."), max_chars=50)
    assert len(answer) <= 50 and answer.endswith("…")
    assert all(part == "word" for part in answer[:-1].split())


def test_tokenizer_meets_word_forms_and_keeps_negations() -> None:
    assert tokenize("My batteries are charging") == tokenize("battery charge")
    assert tokenize("plugged lights") == tokenize("plug light")
    assert "not" in tokenize("the light is not on")
    assert tokenize("Température 20°C") == ["températur", "20", "c"]  # unicode words survive


def test_bm25_ranks_the_matching_document_first() -> None:
    docs = [
        "The router sends Wi-Fi to every room.",
        "Charge the doorbell battery with the USB-C cable until the light is green.",
        "Return an order within 30 days for a refund.",
        "The battery of the outdoor camera lasts six months.",
    ]
    index = BM25Index.build(docs)
    scores = index.scores("how do I charge my doorbell batteries")
    assert int(np.argmax(scores)) == 1
    assert scores[2] == 0 and scores[3] > 0  # "battery" only, so lower than the doorbell passage
    assert not index.scores("zebra").any()
    restored = BM25Index.from_json(index.to_json())
    assert np.array_equal(restored.scores("refund order"), index.scores("refund order"))


def fake_index(weight: float = 0.7) -> KnowledgeIndex:
    found = [
        passage("Charge the battery with USB-C.", "doorbell", "How do I charge it?"),
        passage("The doorbell battery lasts months.", "doorbell", "Battery life"),
        passage("Move the mesh point closer to the router.", "mesh", "Amber light"),
        passage("Refunds arrive within 5 business days.", "refunds", "When do I get my money?"),
    ]
    embeddings = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 2]], dtype=np.float32)
    return KnowledgeIndex.build(found, embeddings, weight=weight)


def test_hybrid_search_returns_one_hit_per_article_best_first() -> None:
    index = fake_index()
    hits = index.search("charge doorbell battery", np.array([0.8, 0.2, 0.1]), top_k=3)
    assert [hit.passage.slug for hit in hits] == ["doorbell", "mesh", "refunds"]
    assert hits[0].passage.heading == "How do I charge it?"
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    for hit in hits:
        assert 0.0 <= hit.bm25 <= 1.0
        assert hit.score == pytest.approx(0.7 * hit.cosine + 0.3 * hit.bm25)
    # BM25 on one absolute scale (raw / (raw + saturation)): a partial match is not 1.0.
    assert 0.0 < hits[0].bm25 < 1.0 and hits[0].cosine == pytest.approx(0.8 / np.linalg.norm([0.8, 0.2, 0.1]))
    assert len(index.search("charge", np.array([1.0, 0, 0]), top_k=1)) == 1


def test_bm25_part_is_zero_when_no_word_matches_and_weight_shifts_ranking() -> None:
    hits = fake_index().search("zebra", np.array([0.0, 1.0, 0.0]))
    assert all(hit.bm25 == 0.0 for hit in hits) and hits[0].passage.slug == "mesh"
    lexical = fake_index(weight=0.0).search("refunds business days", np.array([1.0, 0.0, 0.0]))
    assert lexical[0].passage.slug == "refunds"
    with pytest.raises(ValueError, match="same embedding model"):
        fake_index().search("x", np.array([1.0, 0.0]))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    index = fake_index(weight=0.6)
    index.save(tmp_path / "model")
    assert {path.name for path in (tmp_path / "model").iterdir()} == {
        "knowledge_passages.json",
        "knowledge_embeddings.npy",
        "knowledge_bm25.json",
    }
    loaded = KnowledgeIndex.load(tmp_path / "model")
    assert loaded.passages == index.passages and loaded.weight == 0.6
    assert loaded.embeddings.dtype == np.float32 and np.array_equal(loaded.embeddings, index.embeddings)
    assert loaded.bm25.to_json() == index.bm25.to_json()
    query = ("doorbell battery", np.array([0.5, 0.5, 0.0]))
    assert loaded.search(*query) == index.search(*query)


def test_content_hash_follows_the_articles(tmp_path: Path) -> None:
    write(tmp_path, "a.md", FRONT + "One.\n")
    before = content_hash(tmp_path)
    write(tmp_path, "notes.txt", "not an article")
    assert content_hash(tmp_path) == before
    write(tmp_path, "a.md", FRONT + "Two.\n")
    assert content_hash(tmp_path) != before
    assert len(content_hash(KNOWLEDGE)) == 64
