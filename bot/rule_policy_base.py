"""The shape shared by our hand-written dialogue policies: nothing to train, one action or none.

Why: ``UpsetCustomerPolicy`` (bot/policies.py) and ``SurveyAnswerPolicy`` (bot/surveys/policy.py)
both decide from the tracker alone with a rule a support lead can read, never from training
data. Each subclass only says which action to predict (:meth:`choose`); this class turns that
into Rasa's probabilities and abstains when the action is not in the domain.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker


class DecidingPolicy(Policy):
    """A policy that is not trained: :meth:`choose` names the action (confidence 1.0) or abstains."""

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource

    def choose(self, tracker: DialogueStateTracker) -> str | None:
        """The action to predict now, or None to leave the turn to the other policies."""
        raise NotImplementedError

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = self.choose(tracker)
        if action is not None and action in domain.action_names_or_texts:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)
