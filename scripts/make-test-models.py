#!/usr/bin/env python3
"""Generate tiny, deterministic "colour CLIP" ONNX models for the tests.

Usage: /usr/bin/python3 scripts/make-test-models.py [--out DIR] [--force]
       (default DIR: <repo>/.cache/test-models; needs python3-onnx and python3-numpy, no onnxruntime)

The models have no learnt weights; they embed colours so that text and images meet in one space:
  * image embedding = mean colour of the (un-normalised) image, centred on 0.5, through a fixed
    3xD mixing matrix, plus a small constant vector;
  * text embedding  = sum over the (attention-masked) tokens of a per-token row: colour words
    (`red</w>`, `green</w>`, ...) carry the embedding of their colour, the end token
    <|endoftext|> carries the small constant vector, every other token is zero.
So the text "red" (ids [49406, 736, 49407]) has exactly the embedding of a pure red image, and
cosine similarity ranks a pure red image first, etc. A text without colour words embeds as the
constant vector alone (never all-zero), which is closest to a mid-grey image.

Output (DIR):
  colour-hf/         Hugging Face / Xenova layout (onnx/vision_model.onnx, onnx/text_model.onnx,
                     vocab.json, merges.txt, preprocessor_config.json, config.json), D = 8
  colour-openclip/   OpenCLIP / immich layout (visual/model.onnx, visual/preprocess_cfg.json,
                     textual/model.onnx, textual/tokenizer.json, config.json), D = 6
  bad/               not-onnx.onnx, empty.onnx, wrong-shape/ (HF layout, vision input 100x100),
                     wrong-rank/ (HF layout, vision input [batch, 150528])
  manifest.json      models, colour words with token ids, colours and expected embeddings
  .stamp             version string; the script does nothing when it is current
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))
import onnx_builders as ob  # noqa: E402
import numpy as np  # noqa: E402
from onnx import TensorProto  # noqa: E402

VERSION = "memery-test-models/1"

# Colour words that are single tokens in the CLIP vocabulary, with their RGB colour (0..1).
# ("cyan" is not a single token - it is 'cy' + 'an</w>' - so it is left out.)
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "magenta": (1.0, 0.0, 1.0),
    "white": (1.0, 1.0, 1.0),
    "black": (0.0, 0.0, 0.0),
    "purple": (0.5, 0.0, 0.5),
    "orange": (1.0, 0.5, 0.0),
    "grey": (0.5, 0.5, 0.5),
    "gray": (0.5, 0.5, 0.5),
}

BIAS_SCALE = 0.05  # the small constant vector (end token / every image)

# HF layout: D = 8; the first three dimensions are the centred RGB, then fixed mixing, then the
# constant dimension.
HF_DIM = 8
HF_MIX = np.array(
    [
        # r     g     b    r+g   g+b   r+b   alt   const
        [1.0, 0.0, 0.0, 0.25, 0.0, 0.25, 0.1, 0.0],
        [0.0, 1.0, 0.0, 0.25, 0.25, 0.0, -0.1, 0.0],
        [0.0, 0.0, 1.0, 0.0, 0.25, 0.25, 0.1, 0.0],
    ],
    dtype=np.float32,
)
HF_BIAS = np.array([0, 0, 0, 0, 0, 0, 0, BIAS_SCALE], dtype=np.float32)

# OpenCLIP layout: D' = 6, a different (permuted and rotated) mixing.
S = float(np.sqrt(0.5))
OC_DIM = 6
OC_MIX = np.array(
    [
        # b    (r-g)/v2 0  (r+g)/v2 0.1(r-b) const
        [0.0, S, 0.0, S, 0.1, 0.0],
        [0.0, -S, 0.0, S, 0.0, 0.0],
        [1.0, 0.0, 0.0, 0.0, -0.1, 0.0],
    ],
    dtype=np.float32,
)
OC_BIAS = np.array([0, 0, BIAS_SCALE, 0, 0, 0], dtype=np.float32)


def centred(rgb) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float32) - 0.5


def colour_table(vocab: dict[str, int], mix: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, dict]:
    """[49408, D] token table: colour words -> their colour's embedding, end token -> bias."""
    dim = mix.shape[1]
    table = np.zeros((ob.CLIP_VOCAB_SIZE, dim), dtype=np.float32)
    info = {}
    for word, rgb in COLOURS.items():
        token = word + "</w>"
        tid = vocab.get(token)
        if tid is None:
            sys.exit(f"error: {token!r} is not in vocab.json")
        table[tid] = centred(rgb) @ mix
        info[word] = {"token": token, "id": tid, "rgb": list(rgb)}
    table[ob.CLIP_EOT] = bias
    assert not table[0].any(), "row 0 ('!', the OpenCLIP padding id) must be zero"
    assert not table[ob.CLIP_SOT].any()
    return table, info


def expected(info: dict, table: np.ndarray, mix: np.ndarray, bias: np.ndarray) -> dict:
    """Reference embeddings: text [SOT, id, EOT] and a uniform image of the colour (identical)."""
    out = {}
    for word, d in info.items():
        text = table[ob.CLIP_SOT] + table[d["id"]] + table[ob.CLIP_EOT]
        image = centred(d["rgb"]) @ mix + bias
        assert np.allclose(text, image)
        out[word] = [round(float(v), 7) for v in text]
    return out


# --------------------------------------------------------------------------------------------
# Graphs
# --------------------------------------------------------------------------------------------
def vision_graph(
    name: str,
    input_name: str,
    output_name: str,
    mix: np.ndarray,
    bias: np.ndarray,
    size: int = 224,
    flat: bool = False,
    hidden_state: bool = True,
):
    """Mean colour -> centred -> mix. `flat` makes a rank-2 input [batch, 3*size*size]."""
    g = ob.GraphBuilder(name)
    dim = mix.shape[1]
    if flat:
        x = g.input(input_name, TensorProto.FLOAT, ["batch_size", 3 * size * size])
        x = g.op("Reshape", x, g.const("image_shape", np.array([-1, 3, size, size], np.int64)))
    else:
        x = g.input(input_name, TensorProto.FLOAT, ["batch_size", 3, size, size])
    std = g.const("clip_std", np.array(ob.CLIP_STD, np.float32).reshape(1, 3, 1, 1))
    mean = g.const("clip_mean", np.array(ob.CLIP_MEAN, np.float32).reshape(1, 3, 1, 1))
    rgb = g.op("Add", g.op("Mul", x, std, name="unnormalise_std"), mean, name="unnormalise_mean")
    avg = g.op("ReduceMean", rgb, name="mean_colour", axes=[2, 3], keepdims=0)  # [B, 3], 0..1
    c = g.op("Sub", avg, g.const("half", np.array(0.5, np.float32)), name="centre")
    emb = g.op("Add", g.op("MatMul", c, g.const("mix", mix), name="mix"), g.const("bias", bias), name="bias")
    g.output(emb, output_name, TensorProto.FLOAT, ["batch_size", dim])
    if hidden_state:
        hs = g.op("Unsqueeze", emb, g.const("axis1", np.array([1], np.int64)), name="hidden")
        g.output(hs, "last_hidden_state", TensorProto.FLOAT, ["batch_size", 1, dim])
    return g.model(f"memery test model: colour CLIP image encoder ({name})")


def hf_text_graph(table: np.ndarray):
    """input_ids/attention_mask int64 [batch, sequence] (dynamic) -> text_embeds [batch, D]."""
    g = ob.GraphBuilder("colour_text_hf")
    dim = table.shape[1]
    ids = g.input("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    mask = g.input("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"])
    rows = g.op("Gather", g.const("token_table", table), ids, name="token_rows", axis=0)  # [B, S, D]
    m = g.op("Cast", mask, name="mask_float", to=TensorProto.FLOAT)
    m = g.op("Unsqueeze", m, g.const("axis_last", np.array([-1], np.int64)), name="mask_unsqueeze")
    hidden = g.op("Mul", rows, m, name="masked_rows")
    emb = g.op("ReduceSum", hidden, g.const("axis_seq", np.array([1], np.int64)), name="sum_tokens", keepdims=0)
    g.output(emb, "text_embeds", TensorProto.FLOAT, ["batch_size", dim])
    g.output(hidden, "last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", dim])
    return g.model("memery test model: colour CLIP text encoder (Hugging Face layout)")


def openclip_text_graph(table: np.ndarray):
    """text int32 [batch, 77] (zero-padded; row 0 of the table is zero) -> embedding [batch, D']."""
    g = ob.GraphBuilder("colour_text_openclip")
    dim = table.shape[1]
    ids = g.input("text", TensorProto.INT32, ["batch_size", ob.CLIP_CONTEXT])
    rows = g.op("Gather", g.const("token_table", table), ids, name="token_rows", axis=0)
    emb = g.op("ReduceSum", rows, g.const("axis_seq", np.array([1], np.int64)), name="sum_tokens", keepdims=0)
    g.output(emb, "embedding", TensorProto.FLOAT, ["batch_size", dim])
    return g.model("memery test model: colour CLIP text encoder (OpenCLIP / immich layout)")


# --------------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------------
def write_hf_layout(d: Path, vision, text, dim: int) -> dict:
    sizes = {}
    sizes["onnx/vision_model.onnx"] = ob.save_model(vision, d / "onnx" / "vision_model.onnx")
    sizes["onnx/text_model.onnx"] = ob.save_model(text, d / "onnx" / "text_model.onnx")
    ob.copy_tokenizer_files(d)
    ob.write_json(d / "preprocessor_config.json", ob.hf_preprocessor_config())
    ob.write_json(d / "config.json", ob.hf_clip_config(dim, text_hidden=dim, vision_hidden=dim))
    return sizes


def generate(out: Path) -> dict:
    vocab = ob.load_vocab()
    merges = ob.load_merges()
    manifest: dict = {"version": VERSION, "models": {}}

    # (a) Hugging Face layout
    hf_table, hf_info = colour_table(vocab, HF_MIX, HF_BIAS)
    hf_vision = vision_graph("colour_vision_hf", "pixel_values", "image_embeds", HF_MIX, HF_BIAS)
    hf_text = hf_text_graph(hf_table)
    hf_dir = out / "colour-hf"
    write_hf_layout(hf_dir, hf_vision, hf_text, HF_DIM)
    manifest["models"]["colour-hf"] = {
        "path": "colour-hf",
        "layout": "hf",
        "embedDim": HF_DIM,
        "files": {
            "vision": "onnx/vision_model.onnx",
            "text": "onnx/text_model.onnx",
            "vocab": "vocab.json",
            "merges": "merges.txt",
            "preprocessor": "preprocessor_config.json",
            "config": "config.json",
        },
        "vision": {"input": "pixel_values", "shape": ["batch_size", 3, 224, 224], "output": "image_embeds"},
        "text": {
            "inputs": {"input_ids": "int64 [batch_size, sequence_length]", "attention_mask": "int64 [batch_size, sequence_length]"},
            "output": "text_embeds",
            "note": "padding positions are excluded by attention_mask (any pad id works)",
        },
        "colours": hf_info,
        "expectedEmbeddings": expected(hf_info, hf_table, HF_MIX, HF_BIAS),
        "mix": HF_MIX.tolist(),
        "bias": HF_BIAS.tolist(),
    }

    # (b) OpenCLIP / immich layout
    oc_table, oc_info = colour_table(vocab, OC_MIX, OC_BIAS)
    oc_dir = out / "colour-openclip"
    ob.save_model(
        vision_graph("colour_vision_openclip", "image", "embedding", OC_MIX, OC_BIAS, hidden_state=False),
        oc_dir / "visual" / "model.onnx",
    )
    ob.write_json(oc_dir / "visual" / "preprocess_cfg.json", ob.openclip_preprocess_cfg())
    ob.save_model(openclip_text_graph(oc_table), oc_dir / "textual" / "model.onnx")
    ob.write_json(oc_dir / "textual" / "tokenizer.json", ob.hf_tokenizer_json(vocab, merges))
    ob.write_json(
        oc_dir / "config.json",
        {"embed_dim": OC_DIM, "vision_cfg": {"image_size": 224, "patch_size": 32}, "text_cfg": {"context_length": ob.CLIP_CONTEXT, "vocab_size": ob.CLIP_VOCAB_SIZE}},
    )
    manifest["models"]["colour-openclip"] = {
        "path": "colour-openclip",
        "layout": "openclip",
        "embedDim": OC_DIM,
        "files": {
            "vision": "visual/model.onnx",
            "preprocess": "visual/preprocess_cfg.json",
            "text": "textual/model.onnx",
            "tokenizer": "textual/tokenizer.json",
            "config": "config.json",
        },
        "vision": {"input": "image", "shape": ["batch_size", 3, 224, 224], "output": "embedding"},
        "text": {
            "inputs": {"text": f"int32 [batch_size, {ob.CLIP_CONTEXT}]"},
            "output": "embedding",
            "note": "fixed length 77, zero-padded after the end token; token row 0 is zero",
        },
        "colours": oc_info,
        "expectedEmbeddings": expected(oc_info, oc_table, OC_MIX, OC_BIAS),
        "mix": OC_MIX.tolist(),
        "bias": OC_BIAS.tolist(),
    }

    # (c) bad models
    bad = out / "bad"
    bad.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1234)
    (bad / "not-onnx.onnx").write_bytes(b"this is not an ONNX model\n" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (bad / "empty.onnx").write_bytes(b"")
    write_hf_layout(
        bad / "wrong-shape",
        vision_graph("wrong_shape_vision", "pixel_values", "image_embeds", HF_MIX, HF_BIAS, size=100),
        hf_text,
        HF_DIM,
    )
    write_hf_layout(
        bad / "wrong-rank",
        vision_graph("wrong_rank_vision", "pixel_values", "image_embeds", HF_MIX, HF_BIAS, flat=True),
        hf_text,
        HF_DIM,
    )
    manifest["bad"] = {
        "not-onnx.onnx": "text and random bytes, not a protobuf model",
        "empty.onnx": "0 bytes",
        "wrong-shape": "HF layout; vision input pixel_values is [batch_size, 3, 100, 100]",
        "wrong-rank": "HF layout; vision input pixel_values is [batch_size, 150528] (rank 2)",
    }
    manifest["tokens"] = {"startOfText": ob.CLIP_SOT, "endOfText": ob.CLIP_EOT, "contextLength": ob.CLIP_CONTEXT}
    ob.write_json(out / "manifest.json", manifest)
    return manifest


REQUIRED = [
    "manifest.json",
    "colour-hf/onnx/vision_model.onnx",
    "colour-hf/onnx/text_model.onnx",
    "colour-hf/vocab.json",
    "colour-hf/merges.txt",
    "colour-hf/preprocessor_config.json",
    "colour-hf/config.json",
    "colour-openclip/visual/model.onnx",
    "colour-openclip/visual/preprocess_cfg.json",
    "colour-openclip/textual/model.onnx",
    "colour-openclip/textual/tokenizer.json",
    "colour-openclip/config.json",
    "bad/not-onnx.onnx",
    "bad/empty.onnx",
    "bad/wrong-shape/onnx/vision_model.onnx",
    "bad/wrong-rank/onnx/vision_model.onnx",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ob.REPO_ROOT / ".cache" / "test-models", help="output folder")
    ap.add_argument("--force", action="store_true", help="regenerate even when the stamp is current")
    args = ap.parse_args()
    out: Path = args.out.resolve()

    here = Path(__file__).resolve()
    stamp = f"{VERSION} {ob.source_hash(here, here.parent / 'onnx_builders.py')}"
    if not args.force and ob.up_to_date(out, stamp, REQUIRED):
        print(f"test models are up to date in {out} ({stamp})")
        return 0

    t0 = time.monotonic()
    staging = ob.make_staging_dir(out)
    try:
        manifest = generate(staging)
        ob.publish_dir(staging, out, stamp)
    finally:
        if staging.exists():
            ob.shutil.rmtree(staging, ignore_errors=True)
    dt = time.monotonic() - t0
    ids = ", ".join(f"{w}={d['id']}" for w, d in manifest["models"]["colour-hf"]["colours"].items())
    print(f"wrote test models to {out} in {dt:.1f} s ({stamp})")
    print(f"colour token ids: {ids}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
