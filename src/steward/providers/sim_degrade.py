"""A scripted degradation of the simulator (`sim.degrade`): after a number of chat answers, a
share of the answers become refusals and the others drift off topic, so demos and tests can show
evaluation, drift and SLO burn on live traffic. Which answer degrades is a pure function of the
seed and the answer's position in the run, so a run's pattern repeats exactly."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from steward.providers._sim_content import rng_for, topic_of

__all__ = ["Degradation", "SimDegradeSettings", "off_topic_text", "refusal_text"]


class SimDegradeSettings(BaseModel):
    """When and how the simulator's chat answers degrade (none of it is on by default)."""

    model_config = ConfigDict(extra="forbid")

    after_requests: int = Field(
        0, ge=0, description="Chat answers given normally before the degradation starts."
    )
    refusal_rate: float = Field(
        0.0, ge=0, le=1, description="Share of degraded answers that are refusals."
    )
    off_topic: bool = Field(
        False, description="Answers that are not refusals talk about something unrelated."
    )


# Phrasings a refusal detector recognises (see steward.evals.evaluators.heuristic).
_REFUSALS = (
    "I'm sorry, but I can't help with {topic}.",
    "I am unable to assist with {topic} at this time.",
    "I must decline to answer questions about {topic}.",
    "I'm afraid I cannot provide information on {topic}.",
)
# Fluent prose about topics no business assistant was asked about.
_OFF_TOPIC = (
    "Sourdough bread rises best after a long, cold fermentation in the refrigerator overnight.",
    "The migration of monarch butterflies covers thousands of kilometres every autumn.",
    "A well-tuned bicycle chain should be cleaned and oiled every few hundred kilometres.",
    "Volcanic soils are famously fertile, which is why vineyards often grow on old lava.",
    "In chess, controlling the centre early gives the pieces more room to manoeuvre.",
    "Tomatoes ripen faster when stored next to bananas, which release ethylene gas.",
    "Jupiter's Great Red Spot is a storm larger than the Earth that has raged for centuries.",
    "Knitting a scarf with thick wool and large needles is a relaxing weekend project.",
    "The Nile and the Amazon compete for the title of the longest river in the world.",
    "Penguins huddle together in winter and take turns standing on the colder outside edge.",
)


def refusal_text(question: str, seed: int, position: int) -> str:
    """A refusal naming the question's topic, chosen by seed and position."""
    topic = topic_of(question)
    rng = rng_for(seed, "degrade-refusal", position)
    return rng.choice(_REFUSALS).format(topic=f'"{topic}"' if topic else "that request")


def off_topic_text(seed: int, position: int) -> str:
    """Two or three sentences unrelated to any question, chosen by seed and position."""
    rng = rng_for(seed, "degrade-off-topic", position)
    return " ".join(rng.sample(_OFF_TOPIC, rng.randint(2, 3)))


@dataclass(slots=True)
class Degradation:
    """Counts the chat answers of one provider and degrades those past `after_requests`."""

    settings: SimDegradeSettings
    seed: int
    answered: int = 0

    def next_text(self, question: str) -> str | None:
        """The degraded text of the next answer, or None when it is answered normally."""
        position = self.answered
        self.answered += 1
        s = self.settings
        if position < s.after_requests:
            return None
        draw = rng_for(self.seed, "degrade", position).random()
        if s.refusal_rate >= 1 or draw < s.refusal_rate:
            return refusal_text(question, self.seed, position)
        if s.off_topic:
            return off_topic_text(self.seed, position)
        return None
