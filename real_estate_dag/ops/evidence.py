"""Room evidence besides the room model's own probabilities, fused into them before the room sequence:
the objects a detector found in a frame (``room_evidence.OBJECT_RULES``: a bed means bedroom...) and the
property's own photos as exemplars (the same finishes, the same rooms: embedding similarity).
"""

from dataclasses import asdict, dataclass

import numpy as np

from real_estate_dag.gpu_resources.detector import COCO_CLASSES
from real_estate_dag.gpu_resources.room_evidence import OBJECT_RULES, ObjectRule
from real_estate_dag.ops.rooms import ROOM_TYPES

# Cosine similarity of room-backbone embeddings (MobileNetV2 features) at which a frame starts to count as
# showing what a photo shows, and at which its exemplar vote gets the full exemplar weight.
MATCH_LOW, MATCH_HIGH = 0.7, 0.9
EXEMPLAR_TEMPERATURE = 0.03  # softmax temperature over each room's best photo similarity


@dataclass(frozen=True)
class EvidenceSettings:
    object_weight: float = 3.0  # log-odds a fully confident object rule adds to its room
    exemplar_weight: float = 0.5  # share of the exemplar vote in a frame that clearly matches a photo

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value >= 0:
                raise ValueError(f"room evidence setting {name!r} must be a number at least 0, not {value}")
        if self.exemplar_weight > 1:
            raise ValueError(f"room evidence setting 'exemplar_weight' must be at most 1, not {self.exemplar_weight}")


def frame_objects(detections: np.ndarray, frames: int) -> list[dict[str, float]]:
    """Per frame, each detected class name and its highest confidence; ``detections`` are rows of
    ``detector.COLUMNS`` whose first column is the frame's index."""
    found: list[dict[str, float]] = [{} for _ in range(frames)]
    for frame, cls, confidence in detections[:, :3]:
        seen = found[int(frame)]
        name = COCO_CLASSES[int(cls)]
        seen[name] = max(seen.get(name, 0.0), float(confidence))
    return found


def object_evidence(objects: list[dict[str, float]], rules: tuple[ObjectRule, ...] = OBJECT_RULES) -> np.ndarray:
    """(frames, len(ROOM_TYPES)) evidence in 0..1 per room: the noisy-or of the strengths of the rules
    that fire in the frame (all their objects seen, none of their ``unless``)."""
    evidence = np.zeros((len(objects), len(ROOM_TYPES)))
    for frame, seen in enumerate(objects):
        missed = np.ones(len(ROOM_TYPES))
        for rule in rules:
            if all(o in seen for o in rule.objects) and not any(u in seen for u in rule.unless):
                missed[ROOM_TYPES.index(rule.room)] *= 1.0 - min(1.0, rule.weight * min(seen[o] for o in rule.objects))
        evidence[frame] = 1.0 - missed
    return evidence


def fuse_objects(probs: np.ndarray, evidence: np.ndarray, weight: float) -> np.ndarray:
    """Room probabilities with each room's object evidence added to its log-odds (times ``weight``)."""
    fused = probs * np.exp(weight * evidence)
    return fused / fused.sum(axis=1, keepdims=True)


def exemplar_vote(embeddings: np.ndarray, photo_embeddings: np.ndarray,
                  photo_rooms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, a room distribution over the rooms the photos show (softmax of each room's best cosine
    similarity) and the best similarity to any photo; embeddings are L2-normalised rows, ``photo_rooms``
    ROOM_TYPES indices."""
    similarity = embeddings @ photo_embeddings.T
    per_room = np.full((len(embeddings), len(ROOM_TYPES)), -np.inf)
    for room in np.unique(photo_rooms):
        per_room[:, room] = similarity[:, photo_rooms == room].max(axis=1)
    best = per_room.max(axis=1, keepdims=True)
    vote = np.exp((per_room - best) / EXEMPLAR_TEMPERATURE)
    return vote / vote.sum(axis=1, keepdims=True), best[:, 0]


def blend_exemplars(probs: np.ndarray, embeddings: np.ndarray, photo_embeddings: np.ndarray, photo_rooms: np.ndarray,
                    weight: float) -> np.ndarray:
    """Room probabilities blended with the exemplar vote, by ``weight`` times how clearly the frame matches
    a photo (0 below MATCH_LOW similarity, 1 from MATCH_HIGH): a frame like none of the photos keeps the
    room model's probabilities."""
    if len(photo_embeddings) == 0 or weight == 0:
        return probs
    vote, best = exemplar_vote(embeddings, photo_embeddings, photo_rooms)
    share = weight * np.clip((best - MATCH_LOW) / (MATCH_HIGH - MATCH_LOW), 0.0, 1.0)[:, None]
    return (1.0 - share) * probs + share * vote


@dataclass(frozen=True)
class Exemplars:
    """The property's photos as the room backbone sees them: L2-normalised embeddings (M, D), each photo's
    room (ROOM_TYPES index) and where that label came from ("manifest" or "classifier")."""

    names: tuple[str, ...]
    embeddings: np.ndarray
    rooms: np.ndarray
    labelled_by: tuple[str, ...]

    def rows(self) -> list[dict[str, str]]:
        return [{"photo": name, "room": ROOM_TYPES[int(room)], "labelled_by": source}
                for name, room, source in zip(self.names, self.rooms, self.labelled_by, strict=True)]


def photo_exemplars(names: list[str], probs: np.ndarray, embeddings: np.ndarray,
                    rooms: list[str | None]) -> Exemplars:
    """Exemplars from photos with their room model outputs: a photo's room from ``rooms`` (the manifest)
    where it names a room type, else the room model's top room."""
    known = [room if room in ROOM_TYPES else None for room in rooms]
    labels = np.array([ROOM_TYPES.index(room) if room else int(probs[i].argmax()) for i, room in enumerate(known)],
                      dtype=np.int64)
    return Exemplars(tuple(names), embeddings, labels, tuple("manifest" if r else "classifier" for r in known))


def fused_probabilities(probs: np.ndarray, embeddings: np.ndarray, objects: list[dict[str, float]] | None,
                        exemplars: Exemplars | None, settings: EvidenceSettings) -> tuple[np.ndarray, np.ndarray]:
    """The room probabilities the room sequence uses, and the object evidence (zeros without detections):
    the room model's, blended with the exemplar vote, then with the objects' evidence added."""
    if exemplars is not None:
        probs = blend_exemplars(probs, embeddings, exemplars.embeddings, exemplars.rooms, settings.exemplar_weight)
    evidence = object_evidence(objects) if objects is not None else np.zeros_like(probs)
    return fuse_objects(probs, evidence, settings.object_weight), evidence
