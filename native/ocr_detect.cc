#include "ocr_detect.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace memery {
namespace ocr {

namespace {

struct Region {
  std::vector<Pt> points;  // leftmost and rightmost pixel of each row (hull input)
  size_t pixels = 0;
};

// 8-connected regions of prob > thresh, each reduced to its row extremes (enough for the hull).
std::vector<Region> Regions(const float *prob, int w, int h, float thresh) {
  std::vector<uint8_t> seen(static_cast<size_t>(w) * h, 0);
  for (size_t i = 0; i < seen.size(); i++) seen[i] = prob[i] > thresh ? 1 : 0;  // 1: foreground, unvisited
  std::vector<Region> out;
  std::vector<int32_t> stack;
  std::vector<int> rowMin, rowMax;
  for (int y0 = 0; y0 < h; y0++) {
    for (int x0 = 0; x0 < w; x0++) {
      size_t i0 = static_cast<size_t>(y0) * w + x0;
      if (seen[i0] != 1) continue;
      seen[i0] = 2;
      stack.assign(1, static_cast<int32_t>(i0));
      int ymin = y0, ymax = y0;
      std::vector<int32_t> members;
      while (!stack.empty()) {
        int32_t i = stack.back();
        stack.pop_back();
        members.push_back(i);
        const int y = i / w, x = i % w;
        ymin = std::min(ymin, y), ymax = std::max(ymax, y);
        for (int dy = -1; dy <= 1; dy++) {
          const int ny = y + dy;
          if (ny < 0 || ny >= h) continue;
          for (int dx = -1; dx <= 1; dx++) {
            const int nx = x + dx;
            if (nx < 0 || nx >= w || (dx == 0 && dy == 0)) continue;
            const size_t j = static_cast<size_t>(ny) * w + nx;
            if (seen[j] == 1) {
              seen[j] = 2;
              stack.push_back(static_cast<int32_t>(j));
            }
          }
        }
      }
      const int rows = ymax - ymin + 1;
      rowMin.assign(rows, w);
      rowMax.assign(rows, -1);
      for (int32_t i : members) {
        const int y = i / w - ymin, x = i % w;
        rowMin[y] = std::min(rowMin[y], x), rowMax[y] = std::max(rowMax[y], x);
      }
      Region r;
      r.pixels = members.size();
      for (int y = 0; y < rows; y++) {
        if (rowMax[y] < 0) continue;
        r.points.push_back({static_cast<double>(rowMin[y]), static_cast<double>(y + ymin)});
        if (rowMax[y] != rowMin[y]) r.points.push_back({static_cast<double>(rowMax[y]), static_cast<double>(y + ymin)});
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

// box_score_fast: mean probability over the quad's pixels (the quad's corners truncated to ints,
// as cv2.fillPoly is given them), inside its clipped bounding box.
double BoxScore(const float *prob, int w, int h, const Quad &q) {
  double minx = q[0].x, maxx = q[0].x, miny = q[0].y, maxy = q[0].y;
  for (const Pt &p : q) minx = std::min(minx, p.x), maxx = std::max(maxx, p.x), miny = std::min(miny, p.y), maxy = std::max(maxy, p.y);
  const int xmin = std::clamp(static_cast<int>(std::floor(minx)), 0, w - 1), xmax = std::clamp(static_cast<int>(std::ceil(maxx)), 0, w - 1);
  const int ymin = std::clamp(static_cast<int>(std::floor(miny)), 0, h - 1), ymax = std::clamp(static_cast<int>(std::ceil(maxy)), 0, h - 1);
  Pt c[4];
  for (int i = 0; i < 4; i++) c[i] = {std::trunc(q[i].x - xmin), std::trunc(q[i].y - ymin)};
  // Sign of the polygon's orientation, so the inside test works for either winding.
  double area2 = 0;
  for (int i = 0; i < 4; i++) area2 += c[i].x * c[(i + 1) % 4].y - c[(i + 1) % 4].x * c[i].y;
  const double s = area2 >= 0 ? 1 : -1;
  double sum = 0;
  size_t n = 0;
  for (int y = ymin; y <= ymax; y++) {
    const double py = y - ymin;
    for (int x = xmin; x <= xmax; x++) {
      const double px = x - xmin;
      bool inside = true;
      for (int i = 0; i < 4 && inside; i++) {
        const Pt &a = c[i], &b = c[(i + 1) % 4];
        inside = s * ((b.x - a.x) * (py - a.y) - (b.y - a.y) * (px - a.x)) >= -1e-9;
      }
      if (inside) {
        sum += prob[static_cast<size_t>(y) * w + x];
        n++;
      }
    }
  }
  return n ? sum / n : 0.0;
}

}  // namespace

std::vector<Quad> DbBoxes(const float *prob, int mapW, int mapH, int srcW, int srcH, const DetParams &p) {
  std::vector<Quad> boxes;
  if (mapW <= 0 || mapH <= 0) return boxes;
  std::vector<Region> regions = Regions(prob, mapW, mapH, p.thresh);
  if (static_cast<int>(regions.size()) > p.maxCandidates) {
    std::stable_sort(regions.begin(), regions.end(), [](const Region &a, const Region &b) { return a.pixels > b.pixels; });
    regions.resize(p.maxCandidates);
  }
  for (const Region &r : regions) {
    RotatedRect rect = MinAreaRect(ConvexHull(r.points));
    if (std::min(rect.width, rect.height) < p.minSize) continue;
    const Quad box = MiniBoxOrder(Corners(rect));
    if (BoxScore(prob, mapW, mapH, box) < p.boxThresh) continue;
    // Unclip: the round-joined offset of a rectangle by d has as its minimum-area rectangle the
    // same rectangle grown by d on every side.
    const double d = PolygonArea(box) * p.unclipRatio / PolygonPerimeter(box);
    RotatedRect grown = rect;
    grown.width += 2 * d;
    grown.height += 2 * d;
    if (std::min(grown.width, grown.height) < p.minSize + 2) continue;
    Quad q = MiniBoxOrder(Corners(grown));
    for (Pt &pt : q) {
      pt.x = std::clamp(std::round(pt.x / mapW * srcW), 0.0, static_cast<double>(srcW));
      pt.y = std::clamp(std::round(pt.y / mapH * srcH), 0.0, static_cast<double>(srcH));
    }
    // filter_tag_det_res
    q = ClockwiseOrder(q);
    for (Pt &pt : q) {
      pt.x = std::clamp(pt.x, 0.0, static_cast<double>(srcW - 1));
      pt.y = std::clamp(pt.y, 0.0, static_cast<double>(srcH - 1));
    }
    if (static_cast<int>(Distance(q[0], q[1])) <= 3 || static_cast<int>(Distance(q[0], q[3])) <= 3) continue;
    boxes.push_back(q);
  }
  SortReadingOrder(boxes);
  return boxes;
}

void SortReadingOrder(std::vector<Quad> &b) {
  std::stable_sort(b.begin(), b.end(), [](const Quad &a, const Quad &c) { return a[0].y < c[0].y || (a[0].y == c[0].y && a[0].x < c[0].x); });
  for (size_t i = 0; i + 1 < b.size(); i++) {
    for (size_t j = i + 1; j-- > 0;) {
      if (std::fabs(b[j + 1][0].y - b[j][0].y) < 10 && b[j + 1][0].x < b[j][0].x) std::swap(b[j], b[j + 1]);
      else break;
    }
  }
}

}  // namespace ocr
}  // namespace memery
