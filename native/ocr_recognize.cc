#include "ocr_recognize.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "common.h"

namespace memery {
namespace ocr {

Alphabet ReadAlphabet(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("E_MODEL", "Cannot read the OCR dictionary " + path, path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  Alphabet a;
  a.symbols.push_back("");  // blank
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    std::string line = s.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    a.symbols.push_back(line);
    start = end + 1;
  }
  if (a.symbols.size() < 2) throw Error("E_MODEL", "Expected one symbol per line in the OCR dictionary " + path + " but it is empty", path);
  a.space = a.symbols.size();
  a.symbols.push_back(" ");  // use_space_char
  return a;
}

namespace {

bool EndsWithSpaceOrApostrophe(const std::string &s) {
  if (s.empty()) return true;
  const char c = s.back();
  if (c == ' ' || c == '\'') return true;
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xE2\x80\x99") == 0;  // U+2019
}

// How a symbol of the dictionary sits in a line, for the spaces the decoder adds: a letter of a
// script written without spaces between words (CJK ideographs, kana; not Hangul: Korean spaces its
// words), a full-width sign (CJK punctuation, full-width forms: never spaced from either side), or
// anything else.
enum class Spacing { kNarrow, kWideLetter, kWideSign };

Spacing SpacingOf(const std::string &sym) {
  if (sym.size() < 3) return Spacing::kNarrow;  // U+0800 on take 3 UTF-8 bytes
  const auto b = reinterpret_cast<const unsigned char *>(sym.data());
  if ((b[0] & 0xF8) == 0xF0) return Spacing::kWideLetter;  // beyond the BMP: CJK extensions
  if ((b[0] & 0xF0) != 0xE0) return Spacing::kNarrow;
  const uint32_t cp = ((b[0] & 0x0Fu) << 12) | ((b[1] & 0x3Fu) << 6) | (b[2] & 0x3Fu);
  if ((cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFFEF)) return Spacing::kWideSign;
  if ((cp >= 0x2E80 && cp <= 0x9FFF && !(cp >= 0x3130 && cp <= 0x318F)) || (cp >= 0xF900 && cp <= 0xFAFF)) return Spacing::kWideLetter;
  return Spacing::kNarrow;
}

// Whether a space may stand between two symbols: not beside a full-width sign, not between two
// CJK letters (no spaces between words there); between a CJK letter and a Latin word or number
// it may ("使用 Python 和 Node.js 开发").
bool MaySpace(const std::string &a, const std::string &b) {
  const Spacing x = SpacingOf(a), y = SpacingOf(b);
  if (x == Spacing::kWideSign || y == Spacing::kWideSign) return false;
  return !(x == Spacing::kWideLetter && y == Spacing::kWideLetter);
}

// get_rotate_crop_image's geometry: crop size from the quad's sides, homography from the crop
// rectangle to the quad.
bool MakeCrop(const Quad &q, size_t index, Crop &c) {
  c.box = index;
  c.cw = static_cast<int>(std::max(Distance(q[0], q[1]), Distance(q[2], q[3])));
  c.ch = static_cast<int>(std::max(Distance(q[0], q[3]), Distance(q[1], q[2])));
  if (c.cw < 1 || c.ch < 1) return false;
  const Quad rect = {Pt{0, 0}, Pt{c.cw, 0}, Pt{c.cw, c.ch}, Pt{0, c.ch}};
  if (!PerspectiveTransform(rect, q, c.h)) return false;
  c.rotated = c.ch / c.cw >= 1.5;
  c.ratio = c.rotated ? c.ch / c.cw : c.cw / c.ch;
  return true;
}

inline void SampleBilinear(const uint8_t *rgb, int w, int h, double x, double y, float acc[3]) {
  x = std::clamp(x, 0.0, static_cast<double>(w - 1));
  y = std::clamp(y, 0.0, static_cast<double>(h - 1));
  const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  const int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
  const float fx = static_cast<float>(x - x0), fy = static_cast<float>(y - y0);
  const uint8_t *p00 = rgb + (static_cast<size_t>(y0) * w + x0) * 3, *p01 = rgb + (static_cast<size_t>(y0) * w + x1) * 3;
  const uint8_t *p10 = rgb + (static_cast<size_t>(y1) * w + x0) * 3, *p11 = rgb + (static_cast<size_t>(y1) * w + x1) * 3;
  for (int c = 0; c < 3; c++) {
    const float top = p00[c] + (p01[c] - p00[c]) * fx, bot = p10[c] + (p11[c] - p10[c]) * fx;
    acc[c] += top + (bot - top) * fy;
  }
}

// Writes the crop resized to outW x H into the B, G, R planes at `dst` (row stride `stride`,
// plane stride `plane`), normalised to [-1, 1]. One resampling pass: each output pixel is mapped
// back through the resize and the perspective warp, with k x k samples when shrinking.
void RenderCrop(const uint8_t *rgb, int w, int h, const Crop &c, int outW, int H, float *dst, size_t stride, size_t plane) {
  const double rw = c.rotated ? c.ch : c.cw, rh = c.rotated ? c.cw : c.ch;  // the upright image's size
  const double sx = rw / outW, sy = rh / H;
  const int kx = std::clamp(static_cast<int>(std::ceil(sx - 0.25)), 1, 4), ky = std::clamp(static_cast<int>(std::ceil(sy - 0.25)), 1, 4);
  const float norm = 1.0f / (kx * ky * 127.5f);
  for (int y = 0; y < H; y++) {
    for (int x = 0; x < outW; x++) {
      float acc[3] = {0, 0, 0};
      for (int j = 0; j < ky; j++) {
        const double v = (y + (j + 0.5) / ky) * sy - 0.5;
        for (int i = 0; i < kx; i++) {
          const double u = (x + (i + 0.5) / kx) * sx - 0.5;
          // np.rot90 (counter-clockwise): upright (u, v) is crop column cw - 1 - v, row u
          const double cu = c.rotated ? c.cw - 1 - v : u, cv = c.rotated ? u : v;
          const Pt s = Apply(c.h, cu, cv);
          SampleBilinear(rgb, w, h, s.x, s.y, acc);
        }
      }
      const size_t o = static_cast<size_t>(y) * stride + x;
      dst[o] = acc[2] * norm - 1.0f;              // B
      dst[plane + o] = acc[1] * norm - 1.0f;      // G
      dst[2 * plane + o] = acc[0] * norm - 1.0f;  // R
    }
  }
}

}  // namespace

RecPlan PlanRecognition(const std::vector<Quad> &boxes, const RecParams &p) {
  RecPlan plan;
  plan.crops.reserve(boxes.size());
  for (size_t i = 0; i < boxes.size(); i++) {
    Crop c;
    if (MakeCrop(boxes[i], i, c)) plan.crops.push_back(c);
  }
  std::stable_sort(plan.crops.begin(), plan.crops.end(), [](const Crop &a, const Crop &b) { return a.ratio < b.ratio; });
  const size_t batch = static_cast<size_t>(std::max(1, p.batch));
  const auto &crops = plan.crops;
  for (size_t start = 0, n = 0; start < crops.size(); start += n) {
    // A batch holds up to `batch` crops whose widths are within maxPad of the narrowest: padding
    // a short line to a long one's width costs more than the batch saves (measured on CPU).
    n = 1;
    while (n < batch && start + n < crops.size() && crops[start + n].ratio <= crops[start].ratio * p.maxPad) n++;
    plan.batches.emplace_back(start, n);
  }
  plan.found.resize(boxes.size());
  plan.runMs.assign(plan.batches.size(), 0.0);
  plan.kept.assign(boxes.size(), 0);
  return plan;
}

void RecognizeBatch(OrtModel &rec, const Alphabet &alphabet, const uint8_t *rgb, int width, int height,
                    const std::vector<Quad> &boxes, const RecParams &p, RecPlan &plan, size_t b) {
  const auto &crops = plan.crops;
  const size_t start = plan.batches[b].first, n = plan.batches[b].second;
  const int H = p.height;
  Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const char *inName = rec.inputs()[0].name.c_str();
  const char *outName = rec.outputs()[0].name.c_str();
  double maxRatio = static_cast<double>(p.minWidth) / H;
  for (size_t k = 0; k < n; k++) maxRatio = std::max(maxRatio, std::min(crops[start + k].ratio, p.maxRatio));
  const int W = std::max(1, static_cast<int>(H * maxRatio));
  const size_t plane = static_cast<size_t>(H) * W;
  std::vector<float> input(n * 3 * plane, 0.0f);  // padding: 0 after normalisation, as PaddleOCR pads
  for (size_t k = 0; k < n; k++) {
    const Crop &c = crops[start + k];
    const int rw = std::min(W, std::max(1, static_cast<int>(std::ceil(H * std::min(c.ratio, p.maxRatio)))));
    RenderCrop(rgb, width, height, c, rw, H, input.data() + k * 3 * plane, W, plane);
  }
  std::vector<int64_t> shape = {static_cast<int64_t>(n), 3, H, W};
  Ort::Value in = Ort::Value::CreateTensor<float>(mem, input.data(), input.size(), shape.data(), shape.size());
  std::vector<Ort::Value> res;
  const auto run0 = std::chrono::steady_clock::now();
  try {
    res = rec.session().Run(Ort::RunOptions{nullptr}, &inName, &in, 1, &outName, 1);
  } catch (const Ort::Exception &e) {
    throw Error("E_MODEL", std::string("Text recognition failed in ") + rec.path() + ": " + e.what(), rec.path());
  }
  plan.runMs[b] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - run0).count();
  const auto os = res[0].GetTensorTypeAndShapeInfo().GetShape();
  if (os.size() != 3 || os[0] != static_cast<int64_t>(n) || os[2] != static_cast<int64_t>(alphabet.symbols.size()))
    throw Error("E_MODEL", "Expected recogniser output [" + std::to_string(n) + ",T," + std::to_string(alphabet.symbols.size()) +
                               "] but received " + ShapeString(os), rec.path());
  const float *o = res[0].GetTensorData<float>();
  const size_t T = static_cast<size_t>(os[1]), C = static_cast<size_t>(os[2]);
  const size_t space = alphabet.space;
  for (size_t k = 0; k < n; k++) {
    Line line;
    double sum = 0;
    size_t count = 0, prev = 0;
    float gapSpace = 0;  // the most probability the space had at a step since the last character
    size_t last = 0;     // the last character emitted
    for (size_t t = 0; t < T; t++) {
      const float *row = o + (k * T + t) * C;
      const size_t best = static_cast<size_t>(std::max_element(row, row + C) - row);
      if (best == 0 && space < C) gapSpace = std::max(gapSpace, row[space]);
      if (best != 0 && !(t > 0 && best == prev)) {
        // A word gap the model saw but ranked below the blank (the Chinese model rarely emits
        // spaces in English): a space, kept out of the confidence like any space. Never right
        // after an apostrophe ("don't", "you've" are where it errs), nor where MaySpace says no.
        if (best != space && count && p.spaceScore > 0 && gapSpace >= p.spaceScore && !EndsWithSpaceOrApostrophe(line.text) &&
            MaySpace(alphabet.symbols[last], alphabet.symbols[best]))
          line.text += ' ';
        line.text += alphabet.symbols[best];
        sum += row[best];
        count++;
        gapSpace = 0;
        last = best;
      }
      prev = best;
    }
    line.confidence = count ? static_cast<float>(sum / count) : 0.0f;
    const size_t bx = crops[start + k].box;
    line.box = boxes[bx];
    if (count && line.confidence >= p.dropScore) {
      plan.found[bx] = std::move(line);
      plan.kept[bx] = 1;
    }
  }
}

std::vector<Line> CollectLines(RecPlan &plan) {
  std::vector<Line> out;
  for (size_t i = 0; i < plan.found.size(); i++)
    if (plan.kept[i]) out.push_back(std::move(plan.found[i]));
  return out;
}

std::vector<Line> Recognize(OrtModel &rec, const Alphabet &alphabet, const uint8_t *rgb, int width, int height,
                            const std::vector<Quad> &boxes, const RecParams &p) {
  RecPlan plan = PlanRecognition(boxes, p);
  for (size_t b = 0; b < plan.batches.size(); b++) RecognizeBatch(rec, alphabet, rgb, width, height, boxes, p, plan, b);
  return CollectLines(plan);
}

}  // namespace ocr
}  // namespace memery
