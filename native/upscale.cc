#include "upscale.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "multiversion.h"

namespace memery {
namespace {

constexpr int kPrecision = 22;  // as PIL's 8-bit path: 32 - 8 - 2
constexpr int32_t kHalf = 1 << (kPrecision - 1);
constexpr int kStrip = 16;  // source rows fetched at a time

double Cubic(double x) {
  const double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Fixed-point taps for output positions [first, first + count) of a resize that maps `scale` input
// pixels to one output pixel, over `in` input pixels: PIL's precompute_coeffs and
// normalize_coeffs_8bpc (the scale may come from a fractional input size).
struct Taps {
  std::vector<int> start, count;  // per output position
  std::vector<int32_t> k;         // count[i] taps from i * stride
  int stride = 0;
  int lo = 0, hi = 0;  // the input range they read: [lo, hi)
  // The horizontal pass's layout: groups of 4 input pixels, each tap repeated for R, G, B, zero
  // past count[i]: kGroups * 12 values per output position.
  int groups = 0;
  std::vector<int32_t> rgb;
};

Taps Coefficients(int in, double scale, int first, int count) {
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  const double ss = 1.0 / filterscale;
  Taps t;
  t.stride = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.start.resize(count);
  t.count.resize(count);
  t.k.assign(static_cast<size_t>(count) * t.stride, 0);
  t.lo = in;
  t.hi = 0;
  std::vector<double> w(t.stride);
  for (int i = 0; i < count; i++) {
    const double center = (first + i + 0.5) * scale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(std::min(static_cast<int>(center + support + 0.5), in) - xmin, t.stride);
    double ww = 0.0;
    for (int x = 0; x < xmax; x++) {
      w[x] = Cubic((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    int32_t *k = t.k.data() + static_cast<size_t>(i) * t.stride;
    for (int x = 0; x < xmax; x++) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      const double f = v * (1 << kPrecision);
      k[x] = static_cast<int32_t>(v < 0 ? std::trunc(-0.5 + f) : std::trunc(0.5 + f));
    }
    t.start[i] = xmin;
    t.count[i] = std::max(xmax, 0);
    if (t.count[i] > 0) {
      t.lo = std::min(t.lo, xmin);
      t.hi = std::max(t.hi, xmin + t.count[i]);
    }
  }
  if (t.hi < t.lo) t.lo = t.hi = 0;
  return t;
}

void ExpandRgb(Taps &t) {
  int most = 0;
  for (int c : t.count) most = std::max(most, c);
  t.groups = (most + 3) / 4;
  const size_t n = static_cast<size_t>(t.groups) * 12;
  t.rgb.assign(t.start.size() * n, 0);
  for (size_t i = 0; i < t.start.size(); i++)
    for (int j = 0; j < t.count[i]; j++)
      for (int c = 0; c < 3; c++) t.rgb[i * n + j * 3 + c] = t.k[i * t.stride + j];
}

MEMERY_INLINE uint8_t Clip8(int32_t v) {
  v >>= kPrecision;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Output pixel of one row of the horizontal pass, one tap (source pixel) at a time: near the
// row's ends, where a group of 4 would run past the pixels read.
MEMERY_INLINE void PerTap(const uint8_t *p, const int32_t *k, int count, uint8_t *dst) {
  int32_t r = kHalf, g = kHalf, b = kHalf;
  for (int j = 0; j < count; j++, p += 3) {
    r += p[0] * k[j];
    g += p[1] * k[j];
    b += p[2] * k[j];
  }
  dst[0] = Clip8(r);
  dst[1] = Clip8(g);
  dst[2] = Clip8(b);
}

// Output pixel x of one row of the horizontal pass, G groups of 4 source pixels (12 bytes) at a
// time, each lane accumulating one byte position; the lanes are summed per channel at the end
// (exact integer sums: the order does not change the result).
template <int G>
MEMERY_INLINE void Grouped(const uint8_t *p, const int32_t *k, uint8_t *dst) {
  int32_t acc[12] = {0};
  for (int q = 0; q < G; q++)
    for (int l = 0; l < 12; l++) acc[l] += p[q * 12 + l] * k[q * 12 + l];
  dst[0] = Clip8(kHalf + acc[0] + acc[3] + acc[6] + acc[9]);
  dst[1] = Clip8(kHalf + acc[1] + acc[4] + acc[7] + acc[10]);
  dst[2] = Clip8(kHalf + acc[2] + acc[5] + acc[8] + acc[11]);
}

template <int G>
MEMERY_INLINE void HorizontalRowG(const uint8_t *row, int x0, int x1, const Taps &t, int S, uint8_t *dst) {
  const size_t n = static_cast<size_t>(G) * 12;
  for (int x = 0; x < S; x++) {
    const int start = t.start[x];
    const uint8_t *p = row + static_cast<size_t>(start - x0) * 3;
    if (start + G * 4 <= x1) {
      Grouped<G>(p, t.rgb.data() + x * n, dst + x * 3);
    } else {
      PerTap(p, t.k.data() + static_cast<size_t>(x) * t.stride, t.count[x], dst + x * 3);
    }
  }
}

// One row of the horizontal pass. `row` points at source pixel x0 and holds pixels [x0, x1).
MEMERY_MULTIVERSION
void HorizontalRow(const uint8_t *row, int x0, int x1, const Taps &t, int S, uint8_t *dst) {
  switch (t.groups) {
    case 1: return HorizontalRowG<1>(row, x0, x1, t, S, dst);
    case 2: return HorizontalRowG<2>(row, x0, x1, t, S, dst);
    case 3: return HorizontalRowG<3>(row, x0, x1, t, S, dst);
    case 4: return HorizontalRowG<4>(row, x0, x1, t, S, dst);
    case 5: return HorizontalRowG<5>(row, x0, x1, t, S, dst);
    case 6: return HorizontalRowG<6>(row, x0, x1, t, S, dst);
    default: break;
  }
  const int groups = t.groups;
  const size_t n = static_cast<size_t>(groups) * 12;
  for (int x = 0; x < S; x++) {
    const int start = t.start[x];
    const uint8_t *p = row + static_cast<size_t>(start - x0) * 3;
    if (start + groups * 4 <= x1) {
      const int32_t *k = t.rgb.data() + x * n;
      int32_t acc[12] = {0};
      for (int q = 0; q < groups; q++, p += 12, k += 12)
        for (int l = 0; l < 12; l++) acc[l] += p[l] * k[l];
      dst[x * 3] = Clip8(kHalf + acc[0] + acc[3] + acc[6] + acc[9]);
      dst[x * 3 + 1] = Clip8(kHalf + acc[1] + acc[4] + acc[7] + acc[10]);
      dst[x * 3 + 2] = Clip8(kHalf + acc[2] + acc[5] + acc[8] + acc[11]);
    } else {
      PerTap(p, t.k.data() + static_cast<size_t>(x) * t.stride, t.count[x], dst + x * 3);
    }
  }
}

// One output row of the vertical pass over `count` intermediate rows `rowBytes` apart.
MEMERY_MULTIVERSION
void VerticalRow(const uint8_t *mid, size_t rowBytes, const int32_t *k, int count, int32_t *acc, uint8_t *dst) {
  for (size_t x = 0; x < rowBytes; x++) acc[x] = kHalf;
  for (int j = 0; j < count; j++) {
    const uint8_t *row = mid + j * rowBytes;
    const int32_t kj = k[j];
    for (size_t x = 0; x < rowBytes; x++) acc[x] += row[x] * kj;
  }
  for (size_t x = 0; x < rowBytes; x++) dst[x] = Clip8(acc[x]);
}

}  // namespace

void ResampleCrop(const RowSource &rows, int w, int h, double w0, double h0, int nw, int nh, int left, int top, int S,
                  uint8_t *out) {
  // An axis is copied when its size is unchanged (and the copy is in range), as PIL does.
  const bool doH = w0 != nw || w < left + S;
  const bool doV = h0 != nh || h < top + S;
  const size_t rowBytes = static_cast<size_t>(S) * 3;
  // Rows of the intermediate (horizontally resized) image that the vertical pass reads.
  Taps ty;
  int y0 = top, y1 = top + S;
  if (doV) {
    ty = Coefficients(h, h0 / nh, top, S);
    y0 = ty.lo;
    y1 = ty.hi;
  }
  y0 = std::max(0, std::min(y0, h));
  y1 = std::max(y0, std::min(y1, h));
  // Source columns the horizontal pass reads (for the grouped taps: up to 3 past the last tap).
  Taps tx;
  int x0 = left, x1 = left + S;
  if (doH) {
    tx = Coefficients(w, w0 / nw, left, S);
    ExpandRgb(tx);
    x0 = tx.lo;
    x1 = tx.hi;
    for (int x = 0; x < S; x++) x1 = std::max(x1, tx.start[x] + tx.groups * 4);
  }
  x0 = std::max(0, std::min(x0, w));
  x1 = std::max(x0, std::min(x1, w));
  std::vector<uint8_t> mid(static_cast<size_t>(y1 - y0) * rowBytes);
  for (int y = y0; y < y1; y += kStrip) {
    const int n = std::min(kStrip, y1 - y);
    size_t stride = 0;
    const uint8_t *src = rows(y, n, x0, x1, &stride);
    for (int i = 0; i < n; i++) {
      uint8_t *dst = mid.data() + static_cast<size_t>(y + i - y0) * rowBytes;
      if (doH) HorizontalRow(src + i * stride, x0, x1, tx, S, dst);
      else std::memcpy(dst, src + i * stride + static_cast<size_t>(left - x0) * 3, rowBytes);
    }
  }
  if (doV) {
    std::vector<int32_t> acc(rowBytes);
    for (int y = 0; y < S; y++) {
      VerticalRow(mid.data() + static_cast<size_t>(ty.start[y] - y0) * rowBytes, rowBytes,
                  ty.k.data() + static_cast<size_t>(y) * ty.stride, ty.count[y], acc.data(),
                  out + static_cast<size_t>(y) * rowBytes);
    }
  } else {
    std::memcpy(out, mid.data() + static_cast<size_t>(top - y0) * rowBytes, static_cast<size_t>(S) * rowBytes);
  }
}

}  // namespace memery
