"""Object evidence for room types, for the offline ImageNet room backend.

An ImageNet classifier does not know rooms, but it recognises what rooms contain. Each room type
lists ImageNet-1k classes whose presence is evidence for it; the room probability is the summed
class probability of its evidence. Mass outside every list counts towards "other".
"""

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
