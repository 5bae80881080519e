#include "preprocess.h"

#include <sys/stat.h>
#include <vips/vips8>

#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "alloc_tuning.h"
#include "common.h"
#include "to_rgb8.h"
#include "upscale.h"

using vips::VError;
using vips::VImage;

namespace memery {

void EnsureVips() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (VIPS_INIT("memery")) throw Error("E_NATIVE", "libvips failed to start");
    // memery parallelises across images; one thread per image pipeline avoids oversubscription.
    vips_concurrency_set(1);
    // Operation cache off: every image is seen once, and caching would only grow memory.
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    FixMmapThreshold();  // alloc_tuning.h
    // Per-file problems are reported as errors with their path; libvips' own warnings would only
    // clutter stderr (e.g. the CLI's output).
    g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO),
                      [](const gchar *, GLogLevelFlags, const gchar *, gpointer) {}, nullptr);
  });
}

void VipsThreadDone() { vips_thread_shutdown(); }

std::string VipsReason(const std::exception &e) {
  const std::string m = e.what();
  size_t start = 0;
  while (start < m.size()) {
    size_t end = m.find('\n', start);
    if (end == std::string::npos) end = m.size();
    std::string line = m.substr(start, end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) return line;
    start = end + 1;
  }
  return "the image data is damaged or truncated";
}

namespace {

// libvips does not copy `data`: it must outlive the image (and every image made from it).
VImage Open(const uint8_t *data, size_t len, int shrink) {
  auto opts = VImage::option()
                  ->set("access", VIPS_ACCESS_SEQUENTIAL)
                  ->set("fail_on", VIPS_FAIL_ON_TRUNCATED);
  if (shrink > 1) opts->set("shrink", shrink);
  return VImage::new_from_buffer(data, len, "", opts);
}

VImage ToRgb8(VImage img);

// For a thumbnail: ToRgb8's RGB (the same bytes), plus the alpha band as 8 bits when the image has
// one (RGBA), so that it can be composited over white instead of dropped. A 16-bit or float image
// is decoded into memory first: its RGB and its alpha are read separately.
VImage ToRgba8(VImage img) {
  if (!img.has_alpha()) return ToRgb8(img);
  const VipsBandFormat fmt = img.format();
  if (fmt != VIPS_FORMAT_UCHAR && fmt != VIPS_FORMAT_CHAR) img = img.copy_memory();
  VImage alpha = To8Bit(img.extract_band(img.bands() - 1));
  return ToRgb8(img).bandjoin(alpha);
}

// To 8-bit RGB the way the reference (PIL .convert("RGB")) does it: no ICC transform, alpha dropped
// by taking the first bands, greyscale replicated, 16-bit scaled to 8-bit.
VImage ToRgb8(VImage img) {
  img = ToSrgbSpace(img);
  const int bands = img.bands();
  if (bands == 2) img = img.extract_band(0);
  else if (bands > 3) img = img.extract_band(0, VImage::option()->set("n", 3));

  img = To8Bit(img);
  if (img.bands() == 1) img = VImage::bandjoin(std::vector<VImage>{img, img, img});
  return img;
}

}  // namespace

const char *FindImageLoader(const std::string &path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    throw Error(errno == ENOENT ? "E_NOT_FOUND" : "E_IO",
                std::string("Cannot read ") + path + ": " + std::strerror(errno), path);
  }
  if (S_ISDIR(st.st_mode)) throw Error("E_DECODE", "Expected an image file but " + path + " is a directory", path);
  if (!S_ISREG(st.st_mode)) throw Error("E_DECODE", "Expected an image file but " + path + " is not a regular file", path);
  if (st.st_size == 0) throw Error("E_DECODE", "Cannot decode " + path + ": the file is empty", path);
  const char *loader = vips_foreign_find_load(path.c_str());
  if (!loader) {
    vips_error_clear();
    throw Error("E_DECODE", "Cannot decode " + path + ": not a supported image format", path);
  }
  return loader;
}

const char *FindBufferLoader(const uint8_t *data, size_t len, const std::string &what, const std::string &path) {
  if (len == 0) throw Error("E_DECODE", "Cannot decode " + what + (path.empty() ? ": the buffer is empty" : ": the file is empty"), path);
  const char *loader = vips_foreign_find_load_buffer(data, len);
  if (!loader) {
    vips_error_clear();
    throw Error("E_DECODE", "Cannot decode " + what + ": not a supported image format", path);
  }
  return loader;
}

ImageSize LoadCrop(const std::string &path, const PreprocessSpec &spec, uint8_t *out, uint64_t maxFileBytes) {
  // One read buffer per thread, reused from file to file (no fresh pages to fault in per file).
  thread_local FileBytes file;
  ReadWholeFile(path, maxFileBytes, file);
  ImageSize sz = LoadCrop(file.bytes(), file.length, path, spec, out);
  if (file.capacity > (size_t{64} << 20)) {  // do not hold on to an outsized buffer
    file.data.reset();
    file.capacity = 0;
  }
  return sz;
}

ImageSize LoadCrop(const uint8_t *data, size_t len, const std::string &path, const PreprocessSpec &spec, uint8_t *out,
                   ThumbnailRequest *thumb) {
  EnsureVips();
  const bool wantThumb = thumb != nullptr && thumb->size > 0;
  if (thumb) thumb->jpeg.clear();
  const char *loader = FindBufferLoader(data, len, path, path);
  const int S = spec.size;
  try {
    VImage img = Open(data, len, 1);
    double w = img.width(), h = img.height();
    const ImageSize original{img.width(), img.height()};
    if (w * h > spec.maxPixels) {
      char buf[256];
      snprintf(buf, sizeof buf, "Cannot decode %s: %.0f x %.0f pixels is over the limit of %.0f pixels",
               path.c_str(), w, h, spec.maxPixels);
      throw Error("E_DECODE", buf, path);
    }
    int shrink = 1;
    if (spec.shrinkOnLoad && std::strstr(loader, "Jpeg") != nullptr) {
      const double shortSide = std::min(w, h), longSide = std::max(w, h);
      // With a thumbnail, its size bounds the shrink too (never with the default margin and sizes).
      while (shrink < 8 && shortSide / (shrink * 2) >= spec.shrinkMargin * S &&
             (!wantThumb || longSide / (shrink * 2) >= thumb->size))
        shrink *= 2;
      if (shrink > 1) img = Open(data, len, shrink);
    }
    // The thumbnail is turned upright (EXIF orientation) at the end, on its few pixels.
    int orientation = 1;
    if (spec.autorotate) {
      const int before = img.width();
      img = img.autorot();
      if (img.width() != before) std::swap(w, h);  // rotated by 90 or 270 degrees
    } else if (wantThumb) {
      orientation = vips_image_get_orientation(img.get_image());
    }
    // RGB; RGBA (for the thumbnail) when the image has alpha: the crop then reads an RGB copy.
    img = wantThumb ? ToRgba8(img) : ToRgb8(img);
    const int bands = img.bands();

    // Target size of the resize (shorter side = S, longer = int(S * long / short)), on the
    // original geometry, as the reference computes it.
    int nw, nh;
    if (w <= h) {
      nw = S;
      nh = static_cast<int>(static_cast<double>(S) * h / w);
    } else {
      nh = S;
      nw = static_cast<int>(static_cast<double>(S) * w / h);
    }
    // Crop offsets: round half to even, like Python's round().
    const int left = static_cast<int>(std::nearbyint((nw - S) / 2.0));
    const int top = static_cast<int>(std::nearbyint((nh - S) / 2.0));
    if ((bands != 3 && bands != 4) || img.format() != VIPS_FORMAT_UCHAR || img.width() < std::floor(w / shrink) ||
        img.height() < std::floor(h / shrink)) {
      throw Error("E_DECODE", "Cannot decode " + path + ": unexpected geometry after decoding", path);
    }
    // A shrink-on-load decode stands for w / shrink pixels of the full image (libvips rounds its
    // width down to an integer): resampling with that exact scale, not width / nw, keeps the
    // geometry of the reference. Rounding the scale instead shifts and stretches the crop by up to
    // half a decoded pixel, which was most of the error shrink-on-load used to cost.
    // The decode is pulled through a region in strips on this thread: no worker thread, no
    // whole-image buffer, and only the rows and columns the crop needs are copied out.
    vips::VRegion region = img.region();
    const int W = img.width();
    // The thumbnail sees every row, whole, as it streams past (the crop may need only some rows
    // and columns); without one, only what the crop needs is decoded and copied, as before.
    std::unique_ptr<ThumbnailSink> sink;
    if (wantThumb) {
      try {
        sink = std::make_unique<ThumbnailSink>(W, img.height(), bands, thumb->size, w, h);
      } catch (const std::bad_alloc &) {
        // no thumbnail (never a reason to fail the file)
      }
    }
    // Rows [sink->next(), until) that the crop does not read.
    auto feed = [&](int until) {
      while (sink->next() < until) {
        const int y = sink->next(), n = std::min(16, until - y);
        region.prepare(0, y, W, n);
        sink->AddRows(static_cast<const uint8_t *>(static_cast<void *>(region.addr(0, y))), region.stride(), n);
      }
    };
    std::vector<uint8_t> rgb;  // the crop's RGB copy of RGBA rows
    RowSource rows = [&](int y, int n, int x0, int x1, size_t *stride) -> const uint8_t * {
      if (sink) {
        try {
          feed(y);
        } catch (const VError &) {
          vips_error_clear();  // no thumbnail; the crop decides whether the image is readable
          sink.reset();
        } catch (const std::bad_alloc &) {
          sink.reset();  // no thumbnail
        }
      }
      const int px0 = sink ? 0 : x0, pw = sink ? W : std::max(x1 - x0, 1);
      region.prepare(px0, y, pw, n);
      const uint8_t *base = static_cast<const uint8_t *>(static_cast<void *>(region.addr(x0, y)));
      if (sink) sink->AddRows(static_cast<const uint8_t *>(static_cast<void *>(region.addr(0, y))), region.stride(), n);
      if (bands == 3) {
        *stride = region.stride();
        return base;
      }
      const size_t cw = static_cast<size_t>(std::max(x1 - x0, 0));
      rgb.resize(std::max<size_t>(1, static_cast<size_t>(n) * cw * 3));
      for (int i = 0; i < n; i++) {
        const uint8_t *s = base + static_cast<size_t>(i) * region.stride();
        uint8_t *d = rgb.data() + static_cast<size_t>(i) * cw * 3;
        for (size_t x = 0; x < cw; x++) {
          d[x * 3] = s[x * 4];
          d[x * 3 + 1] = s[x * 4 + 1];
          d[x * 3 + 2] = s[x * 4 + 2];
        }
      }
      *stride = cw * 3;
      return rgb.data();
    };
    ResampleCrop(rows, W, img.height(), w / shrink, h / shrink, nw, nh, left, top, S, out);
    if (sink) {
      try {
        feed(sink->height());  // the rows below the crop
        thumb->jpeg = sink->Encode(thumb->quality, orientation);
      } catch (const VError &) {
        vips_error_clear();  // e.g. a truncated end the crop never reached: no thumbnail
        thumb->jpeg.clear();
      } catch (const std::bad_alloc &) {
        thumb->jpeg.clear();  // no thumbnail
      }
    }
    return original;
  } catch (const VError &e) {
    vips_error_clear();
    throw Error("E_DECODE", "Cannot decode " + path + ": " + VipsReason(e), path);
  }
}

void Normalize(const uint8_t *rgb, const PreprocessSpec &spec, float *chw) {
  const int n = spec.size * spec.size;
  for (int c = 0; c < 3; c++) {
    const float scale = 1.0f / (255.0f * spec.std[c]);
    const float shift = spec.mean[c] / spec.std[c];
    float *dst = chw + static_cast<size_t>(c) * n;
    const uint8_t *src = rgb + c;
    for (int i = 0; i < n; i++) dst[i] = src[3 * i] * scale - shift;
  }
}

}  // namespace memery
