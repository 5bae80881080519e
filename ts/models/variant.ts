import type { LayoutVariant } from './layout.js';
import type { ModelEntry } from './registry.js';

/**
 * The int8 (quantized) variant's file names: `<name>_quantized.onnx` beside `<name>.onnx`, as
 * transformers.js / optimum exports name them. The layout detector looks for them and the registry's
 * int8 entries name them through this rule; nothing else spells it.
 */

/** 'onnx/vision_model.onnx' -> 'onnx/vision_model_quantized.onnx'. */
export function quantizedPath(rel: string): string {
  return rel.replace(/\.onnx$/, '_quantized.onnx');
}

/**
 * The files a registry entry loads from its repository's folder: an int8 entry the quantized ones
 * (models of one repository share a cache folder, both variants side by side); any other entry
 * `otherwise` (config `variant`, or fp32).
 */
export function layoutVariantOf(entry: Pick<ModelEntry, 'variant'>, otherwise: LayoutVariant): LayoutVariant {
  return entry.variant === 'int8' ? 'quantized' : otherwise;
}
