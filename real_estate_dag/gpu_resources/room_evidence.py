"""Object evidence for room types: ImageNet classes for the offline room backend, and rules over the
objects a detector finds (``OBJECT_RULES``, used by ``ops.evidence``).

An ImageNet classifier does not know rooms, but it recognises what rooms contain. Each room type
lists ImageNet-1k classes whose presence is evidence for it; the room probability is the summed
class probability of its evidence. Mass outside every list counts towards "other".
"""

from dataclasses import dataclass

EVIDENCE: dict[str, tuple[str, ...]] = {
    "exterior": (
        "boathouse", "mobile home", "palace", "monastery", "church", "castle", "barn", "dome",
        "tile roof", "thatch", "picket fence", "worm fence", "stone wall", "mailbox", "garbage truck",
        "minivan", "cab", "convertible", "sports car", "beach wagon", "limousine", "pickup",
        "street sign", "planetarium", "cinema", "triumphal arch", "bell cote",
    ),
    "living_room": (
        "studio couch", "entertainment center", "home theater", "television", "rocking chair",
        "fire screen", "bookcase", "library", "table lamp", "lampshade", "grand piano", "upright",
        "folding chair", "pool table", "radiator", "space heater", "wall clock", "window shade",
        "vase", "desk", "monitor", "desktop computer", "throne",
    ),
    "kitchen": (
        "refrigerator", "microwave", "stove", "dishwasher", "toaster", "Dutch oven", "wok",
        "frying pan", "espresso maker", "coffeepot", "caldron", "mixing bowl", "rotisserie",
        "paper towel", "dishrag", "waffle iron", "Crock Pot", "teapot", "spatula", "ladle",
        "washer", "corkscrew", "can opener",
    ),
    "dining_room": (
        "dining table", "china cabinet", "plate", "wine bottle", "coffee mug", "water jug",
        "goblet", "red wine", "candle", "restaurant", "tray", "soup bowl",
    ),
    "bedroom": (
        "quilt", "four-poster", "wardrobe", "chiffonier", "crib", "cradle", "bassinet", "pillow",
        "mosquito net", "sleeping bag", "wardrobe", "pajama", "teddy",
    ),
    "bathroom": (
        "bathtub", "tub", "toilet seat", "shower curtain", "washbasin", "medicine chest",
        "soap dispenser", "toilet tissue", "plunger", "bath towel", "shower cap", "hand blower",
    ),
    "outdoor": (
        "patio", "lakeside", "seashore", "valley", "alp", "cliff", "promontory", "fountain",
        "lawn mower", "park bench", "swing", "birdhouse", "pot", "greenhouse", "daisy",
        "hay", "sundial", "pier", "breakwater", "sandbar", "bannister", "doormat", "sliding door",
    ),
}


@dataclass(frozen=True)
class ObjectRule:
    """Detected COCO objects (detector.py's names) that are evidence for ``room``: all of ``objects`` seen
    in one frame and none of ``unless``. The rule's strength in a frame is ``weight`` times the lowest
    confidence of its objects."""

    room: str
    objects: tuple[str, ...]
    weight: float = 1.0
    unless: tuple[str, ...] = ()


KITCHEN_APPLIANCES = ("oven", "microwave", "refrigerator", "toaster")
OBJECT_RULES: tuple[ObjectRule, ...] = (
    ObjectRule("bedroom", ("bed",)),
    ObjectRule("bathroom", ("toilet",)),
    ObjectRule("bathroom", ("sink",), 0.6, unless=KITCHEN_APPLIANCES),
    ObjectRule("bathroom", ("toothbrush",), 0.5),
    ObjectRule("bathroom", ("hair drier",), 0.5),
    *(ObjectRule("kitchen", (appliance,)) for appliance in KITCHEN_APPLIANCES),
    ObjectRule("kitchen", ("sink",), 0.5, unless=("toilet",)),
    ObjectRule("dining_room", ("dining table", "chair")),
    ObjectRule("dining_room", ("dining table",), 0.4),
    ObjectRule("living_room", ("couch",)),
    ObjectRule("living_room", ("tv",), 0.6),
    *(ObjectRule("exterior", (vehicle,)) for vehicle in ("car", "truck", "bus", "motorcycle")),
    ObjectRule("exterior", ("fire hydrant",), 0.6),
    ObjectRule("exterior", ("stop sign",), 0.6),
)
