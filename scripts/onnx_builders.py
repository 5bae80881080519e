#!/usr/bin/env python3
"""Shared helpers for the model generators (scripts/make-test-models.py, scripts/make-bench-models.py).

Needs only `onnx` (1.12 or newer) and `numpy`; no onnxruntime. Models use opset 17 and IR version 8.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as exc:  # pragma: no cover - environment problem
    sys.exit(
        f"error: a Python package is missing ({exc}); these scripts need onnx and numpy. On Debian: apt-get install python3-onnx "
        "python3-numpy, and run the script with /usr/bin/python3."
    )

OPSET = 17
IR_VERSION = 8

REPO_ROOT = Path(__file__).resolve().parent.parent
# ../shared beside the checkout (read-only; never copied into the repository).
SHARED = Path(os.environ.get("MEMERY_SHARED", REPO_ROOT.parent / "shared"))
CLIP_TOKENIZER_DIR = SHARED / "clip"

# CLIP image normalisation (OpenAI CLIP, also used by the LAION OpenCLIP ViT-B-32 models).
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
CLIP_SOT = 49406  # <|startoftext|>
CLIP_EOT = 49407  # <|endoftext|>
CLIP_VOCAB_SIZE = 49408
CLIP_CONTEXT = 77

_NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.uint8): TensorProto.UINT8,
}


# --------------------------------------------------------------------------------------------
# Graph building
# --------------------------------------------------------------------------------------------
class GraphBuilder:
    """A tiny imperative ONNX graph builder: `g.op("Add", a, b)` returns the output name."""

    def __init__(self, name: str):
        self.name = name
        self.nodes: list = []
        self.initializers: list = []
        self.inputs: list = []
        self.outputs: list = []
        self._names: set[str] = set()
        self._counter = 0

    def _unique(self, base: str) -> str:
        base = base.replace("/", "_")
        name = base
        while name in self._names:
            self._counter += 1
            name = f"{base}_{self._counter}"
        self._names.add(name)
        return name

    def input(self, name: str, elem_type: int, shape: list) -> str:
        self._names.add(name)
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def output(self, value: str, name: str, elem_type: int, shape: list) -> str:
        """Expose `value` as a graph output called `name` (via Identity when the names differ)."""
        if value != name:
            self._names.add(name)
            self.nodes.append(helper.make_node("Identity", [value], [name], name=f"{name}_identity"))
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def const(self, name: str, value) -> str:
        arr = np.asarray(value)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        if arr.dtype not in _NP_TO_ONNX:
            raise TypeError(f"unsupported constant dtype {arr.dtype} for {name}")
        name = self._unique(name)
        self.initializers.append(numpy_helper.from_array(np.asarray(arr, order="C"), name))  # 0-d stays 0-d
        return name

    def op(self, op_type: str, *inputs: str, name: str | None = None, outputs: int = 1, **attrs):
        base = self._unique(name or op_type)
        outs = [base] if outputs == 1 else [self._unique(f"{base}_out{i}") for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=base, **attrs))
        return outs[0] if outputs == 1 else outs

    # ---- composite helpers ----------------------------------------------------------------
    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray | None, name: str, quantize: bool = False) -> str:
        """y = x @ weight (+ bias); weight is [in, out].

        With quantize=True this emits the pattern that onnxruntime.quantization.quantize_dynamic
        produces (and that ORT's CPU provider fuses into DynamicQuantizeMatMul /
        MatMulIntegerToFloat):
            DynamicQuantizeLinear(x) -> MatMulInteger(x_u8, W_s8, x_zp, w_zp) -> Cast(float)
            -> Mul(., Mul(x_scale, w_scale)) -> Add(bias)
        The weight is quantised per tensor, symmetric, int8, zero point 0.
        """
        if not quantize:
            y = self.op("MatMul", x, self.const(f"{name}.weight", weight), name=f"{name}/MatMul")
        else:
            w_q, w_scale = quantize_symmetric_int8(weight)
            w_name = self.const(f"{name}.weight_quantized", w_q)
            w_scale_name = self.const(f"{name}.weight_scale", np.array(w_scale, dtype=np.float32))
            w_zp_name = self.const(f"{name}.weight_zero_point", np.array(0, dtype=np.int8))
            x_q, x_scale, x_zp = self.op("DynamicQuantizeLinear", x, name=f"{name}/DynamicQuantizeLinear", outputs=3)
            mm = self.op("MatMulInteger", x_q, w_name, x_zp, w_zp_name, name=f"{name}/MatMulInteger")
            mm_f = self.op("Cast", mm, name=f"{name}/Cast", to=TensorProto.FLOAT)
            scale = self.op("Mul", x_scale, w_scale_name, name=f"{name}/ScaleMul")
            y = self.op("Mul", mm_f, scale, name=f"{name}/OutputMul")
        if bias is not None:
            y = self.op("Add", y, self.const(f"{name}.bias", bias), name=f"{name}/Add")
        return y

    def layer_norm(self, x: str, dim: int, name: str, eps: float = 1e-5) -> str:
        return self.op(
            "LayerNormalization",
            x,
            self.const(f"{name}.weight", np.ones(dim, np.float32)),
            self.const(f"{name}.bias", np.zeros(dim, np.float32)),
            name=name,
            axis=-1,
            epsilon=eps,
        )

    def model(self, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, initializer=self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="memery-scripts",
            producer_version="1",
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        return model


def quantize_symmetric_int8(weight: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-tensor symmetric int8 quantisation (range [-127, 127], zero point 0)."""
    w = np.asarray(weight, dtype=np.float32)
    amax = float(np.max(np.abs(w)))
    scale = amax / 127.0 if amax > 0 else 1.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def save_model(model: onnx.ModelProto, path: Path) -> int:
    """Validate and save a model (weights stay inside the file as raw_data). Returns the size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = model.ByteSize()
    if size < 1_800_000_000:
        onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    onnx.checker.check_model(str(path))  # also validates from the file, as a large model must be
    return path.stat().st_size


# --------------------------------------------------------------------------------------------
# Tokenizer / config files
# --------------------------------------------------------------------------------------------
def require_clip_tokenizer() -> Path:
    d = CLIP_TOKENIZER_DIR
    for f in ("vocab.json", "merges.txt"):
        if not (d / f).is_file():
            sys.exit(
                f"error: {d / f} not found. The CLIP tokenizer files come from ../shared/clip "
                "(set MEMERY_SHARED to the shared folder if it lives elsewhere)."
            )
    return d


def load_vocab() -> dict[str, int]:
    with open(require_clip_tokenizer() / "vocab.json", encoding="utf-8") as f:
        return json.load(f)


def load_merges() -> list[str]:
    with open(require_clip_tokenizer() / "merges.txt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    return [ln for ln in lines if ln and not ln.startswith("#version")]


def copy_tokenizer_files(dst_dir: Path) -> None:
    src = require_clip_tokenizer()
    dst_dir.mkdir(parents=True, exist_ok=True)
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(src / f, dst_dir / f)


def hf_tokenizer_json(vocab: dict[str, int], merges: list[str]) -> dict:
    """A Hugging Face `tokenizers` JSON for the CLIP BPE (as shipped by CLIP model repositories)."""

    def added(tid: int, content: str) -> dict:
        return {
            "id": tid,
            "content": content,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": True,
            "special": True,
        }

    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(CLIP_SOT, "<|startoftext|>"), added(CLIP_EOT, "<|endoftext|>")],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "NFC"},
                {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
                {"type": "Lowercase"},
            ],
        },
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {
                        "Regex": "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"
                    },
                    "behavior": "Removed",
                    "invert": True,
                },
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        },
        "post_processor": {
            "type": "RobertaProcessing",
            "sep": ["<|endoftext|>", CLIP_EOT],
            "cls": ["<|startoftext|>", CLIP_SOT],
            "trim_offsets": False,
            "add_prefix_space": False,
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<|endoftext|>",
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "</w>",
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


def hf_preprocessor_config() -> dict:
    """CLIPImageProcessor settings of openai/clip-vit-base-patch32 (as in Xenova/clip-vit-base-patch32)."""
    return {
        "crop_size": 224,
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor",
        "image_processor_type": "CLIPImageProcessor",
        "image_mean": CLIP_MEAN,
        "image_std": CLIP_STD,
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": 224},
    }


def hf_clip_config(projection_dim: int, text_hidden: int, vision_hidden: int, **extra) -> dict:
    cfg = {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": projection_dim,
        "logit_scale_init_value": 2.6592,
        "text_config": {
            "model_type": "clip_text_model",
            "hidden_size": text_hidden,
            "max_position_embeddings": CLIP_CONTEXT,
            "vocab_size": CLIP_VOCAB_SIZE,
            "bos_token_id": CLIP_SOT,
            "eos_token_id": CLIP_EOT,
            "projection_dim": projection_dim,
        },
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": vision_hidden,
            "image_size": 224,
            "patch_size": 32,
            "projection_dim": projection_dim,
        },
    }
    cfg.update(extra)
    return cfg


def openclip_preprocess_cfg() -> dict:
    """visual/preprocess_cfg.json as in immich-app/ViT-B-32__laion2b-s34b-b79k."""
    return {
        "size": [224, 224],
        "mode": "RGB",
        "mean": CLIP_MEAN,
        "std": CLIP_STD,
        "interpolation": "bicubic",
        "resize_mode": "shortest",
        "fill_color": 0,
    }


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


# --------------------------------------------------------------------------------------------
# Caching / atomic output
# --------------------------------------------------------------------------------------------
STAMP_NAME = ".stamp"


def source_hash(*files: Path) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


def read_stamp(d: Path) -> str | None:
    try:
        return (d / STAMP_NAME).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def up_to_date(d: Path, stamp: str, required: list[str]) -> bool:
    return read_stamp(d) == stamp and all((d / r).is_file() for r in required)


def ensure_replaceable(final_dir: Path) -> None:
    """Exit unless `final_dir` is absent, empty, or a folder generated by these scripts (has a stamp)."""
    if final_dir.is_dir() and any(final_dir.iterdir()) and read_stamp(final_dir) is None:
        sys.exit(f"error: {final_dir} exists, is not empty and was not generated by this script; not replacing it")
    if final_dir.exists() and not final_dir.is_dir():
        sys.exit(f"error: {final_dir} exists and is not a folder")


def make_staging_dir(final_dir: Path) -> Path:
    ensure_replaceable(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.tmp-", dir=final_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes 0700
    return staging


def publish_dir(staging: Path, final_dir: Path, stamp: str) -> None:
    """Write the stamp into `staging` and move it to `final_dir`, replacing an older generated copy.

    Refuses to replace a non-empty folder that this tooling did not create (no stamp file)."""
    (staging / STAMP_NAME).write_text(stamp + "\n", encoding="utf-8")
    if final_dir.exists():
        ensure_replaceable(final_dir)
        old = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.old-", dir=final_dir.parent))
        os.rename(final_dir, old / "x")
        os.rename(staging, final_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, final_dir)


def human_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n} B"
