#!/usr/bin/env python3
"""Generate random-weight CLIP ViT-B/32 ONNX models with exactly the real shapes and FLOPs, for benchmarks.

Usage: /usr/bin/python3 scripts/make-bench-models.py [--out DIR] [--force] [--only fp32|int8]
       (default DIR: $HOME/.cache/memery-bench-models, outside the repository;
        needs python3-onnx and python3-numpy, no onnxruntime)

Output (Hugging Face / Xenova clip-vit-base-patch32 layout, one folder per variant):
  DIR/vit-b32-fp32/onnx/vision_model.onnx   pixel_values [batch,3,224,224] -> image_embeds [batch,512]
  DIR/vit-b32-fp32/onnx/text_model.onnx     input_ids, attention_mask int64 [batch,sequence<=77]
                                            -> text_embeds [batch,512]
  DIR/vit-b32-fp32/{vocab.json,merges.txt,preprocessor_config.json,config.json}
  DIR/vit-b32-int8/...                      the same graphs, dynamically quantised by hand: every
                                            MatMul with a constant weight becomes
                                            DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul
                                            (the quantize_dynamic pattern ORT fuses)
Each variant folder has a .stamp file; a current stamp means the variant is skipped.

The weights are random (numpy default_rng(0), normal * 0.02): the embeddings mean nothing; only
the cost of running the models is real.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))
import onnx_builders as ob  # noqa: E402
import numpy as np  # noqa: E402
from onnx import TensorProto  # noqa: E402

VERSION = "memery-bench-models/1"

# ViT-B/32 (openai/clip-vit-base-patch32)
EMBED = 512
V_WIDTH, V_LAYERS, V_HEADS, V_MLP, PATCH, IMAGE = 768, 12, 12, 3072, 32, 224
T_WIDTH, T_LAYERS, T_HEADS, T_MLP = 512, 12, 8, 2048
GRID = IMAGE // PATCH  # 7
N_PATCH = GRID * GRID  # 49
NEG = -1e9  # additive mask value


class Weights:
    """Deterministic random weights, drawn in a fixed order so both variants share them."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def normal(self, *shape: int) -> np.ndarray:
        return (self.rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)).astype(np.float32)


def encoder_layer(g: ob.GraphBuilder, w: Weights, x: str, width: int, heads: int, mlp: int, prefix: str, mask: str | None, quant: bool) -> str:
    """Pre-LN transformer block: x + attn(ln1(x)); x + mlp(ln2(x)). x is [B, S, width]."""
    hd = width // heads
    h = g.layer_norm(x, width, f"{prefix}.layer_norm1")
    q = g.linear(h, w.normal(width, width), w.normal(width), f"{prefix}.self_attn.q_proj", quant)
    k = g.linear(h, w.normal(width, width), w.normal(width), f"{prefix}.self_attn.k_proj", quant)
    v = g.linear(h, w.normal(width, width), w.normal(width), f"{prefix}.self_attn.v_proj", quant)
    q = g.op("Mul", q, g.const(f"{prefix}.self_attn.scale", np.array(hd**-0.5, np.float32)), name=f"{prefix}/q_scale")
    split = g.const(f"{prefix}.heads_shape", np.array([0, 0, heads, hd], np.int64))
    merge = g.const(f"{prefix}.merge_shape", np.array([0, 0, width], np.int64))

    def heads_first(t: str, nm: str, perm: list[int]) -> str:
        return g.op("Transpose", g.op("Reshape", t, split, name=f"{prefix}/{nm}_reshape"), name=f"{prefix}/{nm}_transpose", perm=perm)

    qh = heads_first(q, "q", [0, 2, 1, 3])  # [B, H, S, hd]
    kh = heads_first(k, "k", [0, 2, 3, 1])  # [B, H, hd, S]
    vh = heads_first(v, "v", [0, 2, 1, 3])  # [B, H, S, hd]
    scores = g.op("MatMul", qh, kh, name=f"{prefix}/scores")  # [B, H, S, S]
    if mask is not None:
        scores = g.op("Add", scores, mask, name=f"{prefix}/mask")
    probs = g.op("Softmax", scores, name=f"{prefix}/softmax", axis=-1)
    ctx = g.op("MatMul", probs, vh, name=f"{prefix}/context")  # [B, H, S, hd]
    ctx = g.op("Reshape", g.op("Transpose", ctx, name=f"{prefix}/ctx_transpose", perm=[0, 2, 1, 3]), merge, name=f"{prefix}/ctx_reshape")
    attn = g.linear(ctx, w.normal(width, width), w.normal(width), f"{prefix}.self_attn.out_proj", quant)
    x = g.op("Add", x, attn, name=f"{prefix}/residual1")

    h = g.layer_norm(x, width, f"{prefix}.layer_norm2")
    h = g.linear(h, w.normal(width, mlp), w.normal(mlp), f"{prefix}.mlp.fc1", quant)
    gate = g.op("Sigmoid", g.op("Mul", h, g.const(f"{prefix}.quick_gelu", np.array(1.702, np.float32)), name=f"{prefix}/gelu_scale"), name=f"{prefix}/gelu_sigmoid")
    h = g.op("Mul", h, gate, name=f"{prefix}/quick_gelu")
    h = g.linear(h, w.normal(mlp, width), w.normal(width), f"{prefix}.mlp.fc2", quant)
    return g.op("Add", x, h, name=f"{prefix}/residual2")


def vision_model(quant: bool, seed: int):
    w = Weights(seed)
    g = ob.GraphBuilder("clip_vision_vit_b32")
    px = g.input("pixel_values", TensorProto.FLOAT, ["batch_size", 3, IMAGE, IMAGE])
    patches = g.op("Conv", px, g.const("embeddings.patch_embedding.weight", w.normal(V_WIDTH, 3, PATCH, PATCH)), name="patch_embedding", kernel_shape=[PATCH, PATCH], strides=[PATCH, PATCH])
    patches = g.op("Reshape", patches, g.const("patch_shape", np.array([0, V_WIDTH, N_PATCH], np.int64)), name="patch_flatten")
    patches = g.op("Transpose", patches, name="patch_transpose", perm=[0, 2, 1])  # [B, 49, 768]
    batch = g.op("Slice", g.op("Shape", px, name="image_shape"), g.const("zero", np.array([0], np.int64)), g.const("one", np.array([1], np.int64)), name="batch_dim")
    cls_shape = g.op("Concat", batch, g.const("cls_tail", np.array([1, V_WIDTH], np.int64)), name="cls_shape", axis=0)
    cls = g.op("Expand", g.const("embeddings.class_embedding", w.normal(1, 1, V_WIDTH)), cls_shape, name="cls_expand")
    x = g.op("Concat", cls, patches, name="tokens", axis=1)  # [B, 50, 768]
    x = g.op("Add", x, g.const("embeddings.position_embedding", w.normal(N_PATCH + 1, V_WIDTH)), name="add_positions")
    x = g.layer_norm(x, V_WIDTH, "pre_layrnorm")
    for i in range(V_LAYERS):
        x = encoder_layer(g, w, x, V_WIDTH, V_HEADS, V_MLP, f"encoder.layers.{i}", None, quant)
    pooled = g.op("Gather", x, g.const("cls_index", np.array(0, np.int64)), name="pool_cls", axis=1)  # [B, 768]
    pooled = g.layer_norm(pooled, V_WIDTH, "post_layernorm")
    emb = g.linear(pooled, w.normal(V_WIDTH, EMBED), None, "visual_projection", quant)
    g.output(emb, "image_embeds", TensorProto.FLOAT, ["batch_size", EMBED])
    g.output(x, "last_hidden_state", TensorProto.FLOAT, ["batch_size", N_PATCH + 1, V_WIDTH])
    kind = "int8 dynamic" if quant else "fp32"
    return g.model(f"memery bench model: random-weight CLIP ViT-B/32 image encoder ({kind})")


def text_model(quant: bool, seed: int):
    w = Weights(seed)
    g = ob.GraphBuilder("clip_text_vit_b32")
    ids = g.input("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    am = g.input("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"])
    tok = g.op("Gather", g.const("embeddings.token_embedding.weight", w.normal(ob.CLIP_VOCAB_SIZE, T_WIDTH)), ids, name="token_embedding", axis=0)
    seq = g.op("Slice", g.op("Shape", ids, name="ids_shape"), g.const("one", np.array([1], np.int64)), g.const("two", np.array([2], np.int64)), name="seq_len")
    zero = g.const("zero", np.array([0], np.int64))
    pos = g.op("Slice", g.const("embeddings.position_embedding.weight", w.normal(ob.CLIP_CONTEXT, T_WIDTH)), zero, seq, zero, name="positions")
    x = g.op("Add", tok, pos, name="add_positions")  # [B, S, 512]

    # causal mask [S, S] (upper triangle NEG) + padding mask [B, 1, 1, S]
    causal = np.triu(np.full((ob.CLIP_CONTEXT, ob.CLIP_CONTEXT), NEG, np.float32), k=1)
    ends = g.op("Concat", seq, seq, name="causal_ends", axis=0)
    causal = g.op("Slice", g.const("causal_mask", causal), g.const("zeros2", np.array([0, 0], np.int64)), ends, g.const("axes01", np.array([0, 1], np.int64)), name="causal_slice")
    pad = g.op("Cast", am, name="mask_float", to=TensorProto.FLOAT)
    pad = g.op("Mul", g.op("Sub", g.const("one_f", np.array(1.0, np.float32)), pad, name="mask_invert"), g.const("neg", np.array(NEG, np.float32)), name="mask_neg")
    pad = g.op("Unsqueeze", pad, g.const("axes12", np.array([1, 2], np.int64)), name="mask_unsqueeze")  # [B,1,1,S]
    mask = g.op("Add", causal, pad, name="attention_bias")  # [B, 1, S, S]

    for i in range(T_LAYERS):
        x = encoder_layer(g, w, x, T_WIDTH, T_HEADS, T_MLP, f"encoder.layers.{i}", mask, quant)
    x = g.layer_norm(x, T_WIDTH, "final_layer_norm")
    # features at the end token = the highest id (as Hugging Face CLIP: input_ids.to(int).argmax(-1))
    eot = g.op("ArgMax", g.op("Cast", ids, name="ids_int32", to=TensorProto.INT32), name="eot_index", axis=-1, keepdims=1)  # [B, 1]
    pooled = g.op("GatherND", x, eot, name="pool_eot", batch_dims=1)  # [B, 512]
    emb = g.linear(pooled, w.normal(T_WIDTH, EMBED), None, "text_projection", quant)
    g.output(emb, "text_embeds", TensorProto.FLOAT, ["batch_size", EMBED])
    g.output(x, "last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", T_WIDTH])
    kind = "int8 dynamic" if quant else "fp32"
    return g.model(f"memery bench model: random-weight CLIP ViT-B/32 text encoder ({kind})")


REQUIRED = [
    "onnx/vision_model.onnx",
    "onnx/text_model.onnx",
    "vocab.json",
    "merges.txt",
    "preprocessor_config.json",
    "config.json",
]


def build_variant(final_dir: Path, quant: bool, stamp: str) -> dict[str, int]:
    staging = ob.make_staging_dir(final_dir)
    sizes: dict[str, int] = {}
    try:
        for fname, make, seed in (("vision_model.onnx", vision_model, 0), ("text_model.onnx", text_model, 1)):
            t0 = time.monotonic()
            model = make(quant, seed)
            sizes[f"onnx/{fname}"] = ob.save_model(model, staging / "onnx" / fname)
            del model
            print(f"  {final_dir.name}/onnx/{fname}: {ob.human_size(sizes['onnx/' + fname])} ({time.monotonic() - t0:.1f} s)", flush=True)
        ob.copy_tokenizer_files(staging)
        ob.write_json(staging / "preprocessor_config.json", ob.hf_preprocessor_config())
        ob.write_json(
            staging / "config.json",
            ob.hf_clip_config(
                EMBED,
                text_hidden=T_WIDTH,
                vision_hidden=V_WIDTH,
                memery_bench={"weights": "random (numpy default_rng, normal*0.02)", "quantization": "dynamic int8 (per-tensor symmetric weights)" if quant else None},
            ),
        )
        ob.publish_dir(staging, final_dir, stamp)
    finally:
        if staging.exists():
            ob.shutil.rmtree(staging, ignore_errors=True)
    return sizes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_out = Path(os.environ.get("HOME", str(Path.home()))) / ".cache" / "memery-bench-models"
    ap.add_argument("--out", type=Path, default=default_out, help=f"output folder (default {default_out})")
    ap.add_argument("--force", action="store_true", help="regenerate even when the stamps are current")
    ap.add_argument("--only", choices=["fp32", "int8"], help="generate one variant only")
    args = ap.parse_args()
    out: Path = args.out.resolve()

    here = Path(__file__).resolve()
    src = ob.source_hash(here, here.parent / "onnx_builders.py")
    t_all = time.monotonic()
    for variant, quant in (("fp32", False), ("int8", True)):
        if args.only and args.only != variant:
            continue
        d = out / f"vit-b32-{variant}"
        stamp = f"{VERSION} {variant} {src}"
        if not args.force and ob.up_to_date(d, stamp, REQUIRED):
            sizes = {r: (d / r).stat().st_size for r in REQUIRED[:2]}
            print(f"{d}: up to date ({stamp}); " + ", ".join(f"{k} {ob.human_size(v)}" for k, v in sizes.items()))
            continue
        t0 = time.monotonic()
        print(f"generating {d} ...", flush=True)
        build_variant(d, quant, stamp)
        print(f"{d}: done in {time.monotonic() - t0:.1f} s", flush=True)
    print(f"bench models in {out} (total {time.monotonic() - t_all:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
