"""Moderation and face detection: NudeNet's detector (its 320n.onnx ships in the package) on onnxruntime.

One model serves both: its classes include exposed and covered body parts (moderation) and
FACE_FEMALE / FACE_MALE (the faces privacy blurs and the intro locates the agent by).
"""

import os

import numpy as np

from real_estate_dag.gpu_resources.backends import NUDENET_320N, Backend, LoadedModel
from real_estate_dag.ops.moderation import Detection

MODERATION = "moderation"


def resolve_moderation() -> Backend:
    return Backend(MODERATION, "nudenet:320n", NUDENET_320N.source, NUDENET_320N.sha256, NUDENET_320N)


class ModerationModel(LoadedModel):
    """NudeNet's detector on the CPU (onnxruntime), every class with its score and box."""

    def __init__(self, backend: Backend, device: str) -> None:
        import onnxruntime
        from nudenet import NudeDetector

        self.backend = backend
        self.device = "cpu"
        self.detector = NudeDetector(model_path=str(backend.weights_file()))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = len(os.sched_getaffinity(0))
        self.detector.onnx_session = onnxruntime.InferenceSession(str(backend.weights_file()), options,
                                                                  providers=["CPUExecutionProvider"])

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Detections in one RGB image (H, W, 3 uint8); boxes are (x, y, width, height) in its pixels."""
        found = self.detector.detect(np.ascontiguousarray(rgb[:, :, ::-1]))
        return [Detection(d["class"], round(float(d["score"]), 3), tuple(int(v) for v in d["box"])) for d in found]
