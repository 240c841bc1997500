"""Person segmentation for the agent intro: BiRefNet from local weights when a setting names them,
else OpenCV's GrabCut seeded from the person's box (no weights; an honest classical fallback)."""

from pathlib import Path

import cv2
import numpy as np

from real_estate_dag.gpu_resources.backends import Backend, LoadedModel, digest_of, tag_digest

SEGMENTATION = "segmentation"
GRABCUT_ITERATIONS = 5
Box = tuple[int, int, int, int]  # x, y, width, height


def resolve_segmentation(weights: str = "") -> list[Backend]:
    """BiRefNet from a local Hugging Face folder (its ``model.safetensors`` digested), then GrabCut."""
    candidates = []
    if weights:
        folder = Path(weights)
        tensors = folder / "model.safetensors"
        digest = digest_of(tensors) if tensors.is_file() else tag_digest(f"birefnet/{weights}")
        candidates.append(Backend(SEGMENTATION, "birefnet", weights, digest))
    candidates.append(Backend(SEGMENTATION, "opencv-grabcut", "", tag_digest(f"grabcut/{cv2.__version__}")))
    return candidates


class GrabCutSegmenter(LoadedModel):
    """GrabCut inside the person's box, the face box marked as sure foreground."""

    def __init__(self, backend: Backend, device: str) -> None:
        self.backend = backend
        self.device = "cpu"

    def mask(self, rgb: np.ndarray, person: Box, face: Box | None) -> np.ndarray:
        """A 0..1 float alpha mask of the person in ``rgb``; boxes are (x, y, width, height)."""
        height, width = rgb.shape[:2]
        x, y, w, h = _clamp(person, width, height)
        labels = np.full((height, width), cv2.GC_BGD, np.uint8)
        labels[y:y + h, x:x + w] = cv2.GC_PR_FGD
        if face is not None:
            fx, fy, fw, fh = _clamp(face, width, height)
            labels[fy + fh // 6:fy + fh - fh // 6, fx + fw // 6:fx + fw - fw // 6] = cv2.GC_FGD
        background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(np.ascontiguousarray(rgb[:, :, ::-1]), labels, None, background, foreground, GRABCUT_ITERATIONS,
                    cv2.GC_INIT_WITH_MASK)
        hard = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
        return cv2.GaussianBlur(hard, (0, 0), max(1.0, min(width, height) / 300))


class BiRefNetSegmenter(LoadedModel):
    """BiRefNet (transformers, the folder's own model code) at 1024x1024; boxes are not needed."""

    def __init__(self, backend: Backend, device: str) -> None:
        import torch
        from transformers import AutoModelForImageSegmentation

        self.backend = backend
        self.device = device
        self.model = AutoModelForImageSegmentation.from_pretrained(backend.weights, trust_remote_code=True,
                                                                   local_files_only=True).to(device).eval()
        self.torch = torch

    def mask(self, rgb: np.ndarray, person: Box, face: Box | None) -> np.ndarray:
        torch = self.torch
        height, width = rgb.shape[:2]
        x = cv2.resize(rgb, (1024, 1024)).astype(np.float32) / 255.0
        x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
        tensor = torch.from_numpy(x).permute(2, 0, 1)[None].to(self.device)
        with torch.inference_mode():
            logits = self.model(tensor)[-1]
        alpha = logits.sigmoid()[0, 0].float().cpu().numpy()
        return cv2.resize(alpha, (width, height))


def _clamp(box: Box, width: int, height: int) -> Box:
    x, y, w, h = (int(v) for v in box)
    x, y = max(0, min(x, width - 2)), max(0, min(y, height - 2))
    return x, y, max(2, min(w, width - x)), max(2, min(h, height - y))
