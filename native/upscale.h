// The resize of CLIP preprocessing, written to match the reference (PIL's BICUBIC resample:
// Catmull-Rom, pixel centres aligned, support scaled by the reduction factor when shrinking
// (antialiased), kernel clipped and renormalised at the borders, 8-bit fixed point, horizontal pass
// into an 8-bit intermediate, then vertical pass). On a full-size decode it is bit-identical to
// PIL (enlarging and reducing). libvips' reduce is close but not the same filter, and its output
// size is rounded, which shifts the crop by up to half a pixel of its input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

namespace memery {

// Supplies source rows [y, y + n), columns [x0, x1), in increasing y (each row asked for once):
// returns a pointer to pixel (x0, y), RGB, rows `*stride` bytes apart, valid until the next call.
using RowSource = std::function<const uint8_t *(int y, int n, int x0, int x1, size_t *stride)>;

// Resizes the w x h RGB image that `rows` supplies as PIL resizes a w0 x h0 image to nw x nh, and
// writes the S x S window at (left, top) of the result to `out` (HWC). The source stands for a
// w0 x h0 image with w0 <= w + 1, h0 <= h + 1: fractional when it is a JPEG shrink-on-load decode
// (w0 = full width / shrink; libvips rounds the decode's size down). An axis with w0 == nw is
// copied, not resampled, as PIL does. Reads only the rows and columns the window needs.
void ResampleCrop(const RowSource &rows, int w, int h, double w0, double h0, int nw, int nh, int left, int top, int S,
                  uint8_t *out);

}  // namespace memery
