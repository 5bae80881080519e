// Thumbnails made from the decode that feeds CLIP (encodeFiles' thumbnailSize). As the decoded rows
// stream past, they are area-averaged (each thumbnail pixel the exact, fractional mean of the
// source pixels it covers: a box prefilter, no aliasing) straight to the thumbnail's size, alpha
// composited over white; the few pixels are then turned by the EXIF orientation and encoded as a
// JPEG by libvips. One pass over the pixels, one row of sums: the decoded image is never held whole
// and no libvips pipeline runs but the encoder's.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace memery {

// What LoadCrop is asked for besides the crop (size 0: nothing), and what it made.
struct ThumbnailRequest {
  int size = 0;     // fit inside size x size (never enlarged)
  int quality = 0;  // JPEG quality, 1-100
  // The JPEG; empty when none could be made (the crop may still have succeeded: a thumbnail is
  // never a reason to fail a file).
  std::vector<uint8_t> jpeg;
};

// The `len` bytes libvips allocated at `buf` (VImage::write_to_buffer) as a vector; `buf` is
// freed (g_free), also when the copy throws.
std::vector<uint8_t> TakeVipsBuffer(void *buf, size_t len);

class ThumbnailSink {
 public:
  // A source pixel span and the fixed-point weight (1/256ths of a pixel) of its two end pixels.
  struct Span {
    int start, end;           // source pixels [start, end)
    uint32_t first, last;     // weights of start and end - 1 (inner pixels weigh 256)
    uint64_t total;           // sum of the weights
  };
  // Rows of a w x h image of `bands` 8-bit channels (3: RGB; 4: RGBA, composited over white) will
  // be added in order. The thumbnail keeps the aspect ratio of fullW x fullH (the image before
  // shrink-on-load) and fits inside size x size, never larger than that image (nor than w x h).
  ThumbnailSink(int w, int h, int bands, int size, double fullW, double fullH);
  // The next row it expects.
  int next() const { return y_; }
  int height() const { return h_; }
  // Rows [next(), next() + n), `stride` bytes apart, each w * bands bytes.
  void AddRows(const uint8_t *rows, size_t stride, int n);
  // Every row added: the JPEG, turned by the EXIF `orientation` (1-8). Throws vips::VError.
  std::vector<uint8_t> Encode(int quality, int orientation);

 private:
  static std::vector<Span> Spans(int in, int out);
  void FinishRow(int oy);
  int w_, h_, bands_, tw_, th_;
  int y_ = 0;
  std::vector<Span> xs_, ys_;
  std::vector<uint64_t> row_;    // one source row, area-summed horizontally: tw_ * 3
  std::vector<uint64_t> acc_;    // two output rows being summed (oy % 2): 2 * tw_ * 3
  std::vector<uint8_t> out_;     // tw_ x th_ RGB
};

}  // namespace memery
