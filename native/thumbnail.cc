#include "thumbnail.h"

#include <vips/vips8>

#include <algorithm>
#include <cmath>
#include <memory>

#include "multiversion.h"

using vips::VImage;

namespace memery {

// Output pixel i of `out` covers source pixels [i * in / out, (i + 1) * in / out): exact in
// integers (units of 1/out of a pixel), weights rounded to 1/256ths. out <= in.
std::vector<ThumbnailSink::Span> ThumbnailSink::Spans(int in, int out) {
  std::vector<Span> s(static_cast<size_t>(out));
  const int64_t I = in, O = out;
  auto weight = [&](int64_t overlap) { return static_cast<uint32_t>((overlap * 256 + O / 2) / O); };
  for (int64_t i = 0; i < O; i++) {
    const int64_t lo = i * I, hi = (i + 1) * I;  // in 1/O pixels
    Span &sp = s[static_cast<size_t>(i)];
    sp.start = static_cast<int>(lo / O);
    sp.end = static_cast<int>((hi + O - 1) / O);
    if (sp.end - sp.start == 1) {
      sp.first = sp.last = weight(hi - lo);
      sp.total = sp.first;
    } else {
      sp.first = weight((sp.start + 1) * O - lo);
      sp.last = weight(hi - static_cast<int64_t>(sp.end - 1) * O);
      sp.total = static_cast<uint64_t>(sp.first) + sp.last + 256ull * static_cast<uint64_t>(sp.end - sp.start - 2);
    }
    if (sp.total == 0) sp.total = 1;  // cannot happen with out <= in; never divide by zero
  }
  return s;
}

ThumbnailSink::ThumbnailSink(int w, int h, int bands, int size, double fullW, double fullH)
    : w_(std::max(w, 1)), h_(std::max(h, 1)), bands_(bands) {
  // Fit inside size x size with the original's aspect ratio; never enlarge (neither the original
  // nor, by rounding, the decoded image).
  size = std::max(size, 1);
  const double longSide = std::max(fullW, fullH);
  const double scale = longSide > size ? size / longSide : 1.0;
  tw_ = std::max(1, std::min(w_, static_cast<int>(std::lround(fullW * scale))));
  th_ = std::max(1, std::min(h_, static_cast<int>(std::lround(fullH * scale))));
  xs_ = Spans(w_, tw_);
  ys_ = Spans(h_, th_);
  row_.assign(static_cast<size_t>(tw_) * 3, 0);
  acc_.assign(static_cast<size_t>(tw_) * 6, 0);
  out_.assign(static_cast<size_t>(tw_) * th_ * 3, 0);
}

void ThumbnailSink::FinishRow(int oy) {
  uint64_t *acc = acc_.data() + static_cast<size_t>(oy % 2) * tw_ * 3;
  uint8_t *dst = out_.data() + static_cast<size_t>(oy) * tw_ * 3;
  const double wy = static_cast<double>(ys_[static_cast<size_t>(oy)].total);
  for (int x = 0; x < tw_; x++) {
    const double inv = 1.0 / (static_cast<double>(xs_[static_cast<size_t>(x)].total) * wy);
    for (int c = 0; c < 3; c++) {
      uint64_t &a = acc[x * 3 + c];
      dst[x * 3 + c] = static_cast<uint8_t>(std::min(255.0, static_cast<double>(a) * inv + 0.5));
      a = 0;
    }
  }
}

namespace {

// Channel c of pixel p (RGB, or RGBA over white).
template <int B>
MEMERY_INLINE uint32_t Px(const uint8_t *p, int c) {
  if (B == 3) return p[c];
  const uint32_t a = p[3];
  return (p[c] * a + 255u * (255u - a) + 127u) / 255u;
}

// One source row, area-summed into `row` (tw * 3 sums).
template <int B>
MEMERY_INLINE void SumRow(const uint8_t *src, const std::vector<ThumbnailSink::Span> &xs, uint64_t *row) {
  for (size_t x = 0; x < xs.size(); x++) {
    const auto &sp = xs[x];
    const uint8_t *p = src + static_cast<size_t>(sp.start) * B;
    uint64_t r = Px<B>(p, 0) * sp.first, g = Px<B>(p, 1) * sp.first, b = Px<B>(p, 2) * sp.first;
    if (sp.end - sp.start > 1) {
      uint64_t ri = 0, gi = 0, bi = 0;
      for (int i = sp.start + 1; i < sp.end - 1; i++) {
        p += B;
        ri += Px<B>(p, 0);
        gi += Px<B>(p, 1);
        bi += Px<B>(p, 2);
      }
      p += B;
      r += ri * 256 + Px<B>(p, 0) * sp.last;
      g += gi * 256 + Px<B>(p, 1) * sp.last;
      b += bi * 256 + Px<B>(p, 2) * sp.last;
    }
    row[x * 3] = r;
    row[x * 3 + 1] = g;
    row[x * 3 + 2] = b;
  }
}

// One source row of 3 or 4 bands, area-summed into `row`.
MEMERY_MULTIVERSION
void SumSourceRow(const uint8_t *src, int bands, const std::vector<ThumbnailSink::Span> &xs, uint64_t *row) {
  if (bands == 4) SumRow<4>(src, xs, row);
  else SumRow<3>(src, xs, row);
}

// acc += row * w, over n sums.
MEMERY_MULTIVERSION
void AddWeighted(uint64_t *acc, const uint64_t *row, size_t n, uint64_t w) {
  for (size_t k = 0; k < n; k++) acc[k] += row[k] * w;
}

}  // namespace

void ThumbnailSink::AddRows(const uint8_t *rows, size_t stride, int n) {
  for (int i = 0; i < n && y_ < h_; i++, y_++) {
    const uint8_t *src = rows + static_cast<size_t>(i) * stride;
    SumSourceRow(src, bands_, xs_, row_.data());
    // The (at most two: out <= in) output rows this source row lies in.
    for (int oy = std::max(0, static_cast<int>(static_cast<int64_t>(y_) * th_ / h_) - 1); oy < th_; oy++) {
      const Span &sp = ys_[static_cast<size_t>(oy)];
      if (sp.start > y_) break;
      if (sp.end <= y_) continue;
      const uint64_t wy = sp.end - sp.start == 1 ? sp.first : y_ == sp.start ? sp.first : y_ == sp.end - 1 ? sp.last : 256;
      uint64_t *acc = acc_.data() + static_cast<size_t>(oy % 2) * tw_ * 3;
      AddWeighted(acc, row_.data(), row_.size(), wy);
      if (y_ == sp.end - 1) FinishRow(oy);  // its last source row
    }
  }
}

std::vector<uint8_t> ThumbnailSink::Encode(int quality, int orientation) {
  VImage img = VImage::new_from_memory(out_.data(), out_.size(), tw_, th_, 3, VIPS_FORMAT_UCHAR)
                   .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  if (orientation > 1 && orientation <= 8) {
    img.set(VIPS_META_ORIENTATION, orientation);
    img = img.autorot();
  }
  void *buf = nullptr;
  size_t len = 0;
  img.write_to_buffer(".jpg", &buf, &len, VImage::option()->set("Q", quality)->set("strip", true));
  return TakeVipsBuffer(buf, len);
}

std::vector<uint8_t> TakeVipsBuffer(void *buf, size_t len) {
  std::unique_ptr<void, void (*)(gpointer)> owned(buf, g_free);
  return std::vector<uint8_t>(static_cast<uint8_t *>(buf), static_cast<uint8_t *>(buf) + len);
}

}  // namespace memery
