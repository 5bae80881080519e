#include "upscale.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace memery {
namespace {

constexpr int kPrecision = 22;  // as PIL's 8-bit path: 32 - 8 - 2

double Cubic(double x) {
  const double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

struct Taps {
  int start;
  std::vector<int32_t> k;
};

// Fixed-point taps for output positions [first, first + count) of an in -> out resize.
std::vector<Taps> Coefficients(int in, int out, int first, int count) {
  const double scale = static_cast<double>(in) / out;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  std::vector<Taps> taps(count);
  for (int i = 0; i < count; i++) {
    const int xx = first + i;
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    int xmax = std::min(static_cast<int>(center + support + 0.5), in) - xmin;
    std::vector<double> w(std::max(xmax, 0));
    double ww = 0.0;
    for (int x = 0; x < xmax; x++) {
      w[x] = Cubic((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    taps[i].start = xmin;
    taps[i].k.resize(w.size());
    for (size_t x = 0; x < w.size(); x++) {
      double v = ww != 0.0 ? w[x] / ww : w[x];
      double f = v * (1 << kPrecision);
      taps[i].k[x] = static_cast<int32_t>(v < 0 ? std::trunc(-0.5 + f) : std::trunc(0.5 + f));
    }
  }
  return taps;
}

inline uint8_t Clip8(int64_t v) {
  v >>= kPrecision;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace

void UpscaleCrop(const uint8_t *src, int w, int h, int nw, int nh, int left, int top, int S, uint8_t *out) {
  // Horizontal pass (only the S output columns we keep), all h rows.
  const bool doH = nw != w;
  const bool doV = nh != h;
  std::vector<uint8_t> mid(static_cast<size_t>(h) * S * 3);
  if (doH) {
    auto tx = Coefficients(w, nw, left, S);
    for (int y = 0; y < h; y++) {
      const uint8_t *row = src + static_cast<size_t>(y) * w * 3;
      uint8_t *dst = mid.data() + static_cast<size_t>(y) * S * 3;
      for (int x = 0; x < S; x++) {
        const Taps &t = tx[x];
        for (int c = 0; c < 3; c++) {
          int64_t acc = 1 << (kPrecision - 1);
          for (size_t j = 0; j < t.k.size(); j++) acc += static_cast<int64_t>(row[(t.start + j) * 3 + c]) * t.k[j];
          dst[x * 3 + c] = Clip8(acc);
        }
      }
    }
  } else {
    for (int y = 0; y < h; y++)
      std::copy(src + (static_cast<size_t>(y) * w + left) * 3, src + (static_cast<size_t>(y) * w + left + S) * 3,
                mid.data() + static_cast<size_t>(y) * S * 3);
  }
  if (doV) {
    auto ty = Coefficients(h, nh, top, S);
    for (int y = 0; y < S; y++) {
      const Taps &t = ty[y];
      uint8_t *dst = out + static_cast<size_t>(y) * S * 3;
      for (int x = 0; x < S * 3; x++) {
        int64_t acc = 1 << (kPrecision - 1);
        for (size_t j = 0; j < t.k.size(); j++) acc += static_cast<int64_t>(mid[(t.start + j) * static_cast<size_t>(S) * 3 + x]) * t.k[j];
        dst[x] = Clip8(acc);
      }
    }
  } else {
    std::copy(mid.begin() + static_cast<size_t>(top) * S * 3, mid.begin() + static_cast<size_t>(top + S) * S * 3, out);
  }
}

}  // namespace memery
