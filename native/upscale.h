// Enlarging resize for images smaller than the model size, written to match the reference
// (PIL's bicubic resample: Catmull-Rom, pixel centres aligned, kernel clipped and renormalised
// at the borders, 8-bit fixed point, horizontal pass then vertical pass). libvips' affine is
// close, but off by up to ~2.5 levels on sharp-edged images; these images are tiny, so exact
// parity costs nothing measurable.
#pragma once
#include <cstdint>

namespace memery {

// `src` is w x h RGB (HWC). Resizes to nw x nh and writes the S x S window at (left, top) to `out`.
void UpscaleCrop(const uint8_t *src, int w, int h, int nw, int nh, int left, int top, int S, uint8_t *out);

}  // namespace memery
