"""Help-center knowledge for long-tail questions: articles, passages and hybrid retrieval.

Pure code (numpy and PyYAML only, no Rasa, no model loading), so the training component, the
action and the benchmark share it and tests run without a model.
"""

from bot.knowledge.articles import Article, ArticleError, Passage, load_articles, passages, short_answer
from bot.knowledge.bm25 import BM25Index, tokenize
from bot.knowledge.retrieval import Hit, KnowledgeIndex, content_hash

__all__ = [
    "Article",
    "ArticleError",
    "BM25Index",
    "Hit",
    "KnowledgeIndex",
    "Passage",
    "content_hash",
    "load_articles",
    "passages",
    "short_answer",
    "tokenize",
]
